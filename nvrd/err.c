/* err.c: words for nvr_err codes. */
#include "autoconfig.h"

#include <stddef.h>

#include "nvrd/err.h"

static const char *const err_names[NVR_ERR__COUNT] = {
	[NVR_OK] = "success",
	[NVR_ERR_NOMEM] = "out of memory",
	[NVR_ERR_INVAL] = "invalid input",
	[NVR_ERR_TOOBIG] = "over a size limit",
	[NVR_ERR_IO] = "input/output error",
	[NVR_ERR_NOSPACE] = "no space left on device",
	[NVR_ERR_CONFIG] = "invalid configuration",
	[NVR_ERR_DB] = "database error",
	[NVR_ERR_DB_UNREACHABLE] = "database unreachable",
	[NVR_ERR_SCHEMA] = "unusable database schema",
	[NVR_ERR_CRYPTO] = "cryptographic library error",
	[NVR_ERR_INTERRUPTED] = "interrupted",
	[NVR_ERR_INTERNAL] = "internal error",
};

const char *
nvr_err_str(nvr_err e)
{
	if ((unsigned)e >= NVR_ERR__COUNT || err_names[e] == NULL)
		return "unknown error";
	return err_names[e];
}
