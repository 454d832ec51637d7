/*
 * notify.h: readiness, reload and stop notifications to systemd.
 */
#ifndef NVR_NOTIFY_H
#define NVR_NOTIFY_H

/* Sends `state` ("READY=1", "RELOADING=1", "STOPPING=1", "STATUS=...")
 * to $NOTIFY_SOCKET; does nothing when nvrd does not run under systemd. */
void nvr_notify(const char *state);

#endif
