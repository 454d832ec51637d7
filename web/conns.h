/*
 * conns.h: the API's open connections per client address, counted from
 * civetweb's socket hooks (contrib/civetweb/nvr-socket-hooks.patch): a
 * socket is counted when accepted, before its TLS handshake, and
 * uncounted when closed. An address with `limit` open connections gets
 * no more: slow or idle clients from one address cannot hold every
 * worker thread. Memory is bounded; when the table is full, new
 * addresses are refused (and counted in web_conns_refused()).
 */
#ifndef NVR_WEB_CONNS_H
#define NVR_WEB_CONNS_H

#include <stdbool.h>
#include <stdint.h>

#include "nvrd/err.h"

#define WEB_CONNS_ADDRESSES 8192 /* addresses with open connections at once */
#define WEB_CONNS_FDS 65536      /* sockets with a number below this are counted */

struct web_conns;

/* Caller frees with web_conns_free(). */
nvr_err web_conns_new(int limit, struct web_conns **out);
void web_conns_free(struct web_conns *c);

/* Counts socket fd for addr (a normalised address text); false, counting
 * nothing, when addr has limit open already, the table is full, or fd is
 * out of range. Thread-safe. */
bool web_conns_open(struct web_conns *c, int fd, const char *addr);
/* Uncounts fd (opened with web_conns_open; others are ignored). */
void web_conns_close(struct web_conns *c, int fd);
/* Open connections of addr. */
int web_conns_of(struct web_conns *c, const char *addr);

#endif
