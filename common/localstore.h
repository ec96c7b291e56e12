/* localstore.h -- the local-directory object store: objects as files under
 * a root directory, same keys as S3, for `make run` and tests. */
#ifndef MILLRACE_LOCALSTORE_H
#define MILLRACE_LOCALSTORE_H

#include "store.h"

#include <stddef.h>

/* Objects go to root_dir/<key>, directories created as needed, each
 * written whole to a temporary file in its directory, fsynced and renamed
 * into place, so readers never see half an object and a put overwrites
 * atomically. Keys must be relative and plain: no leading '/', no empty,
 * "." or ".." segments (two S3 keys must never map to one file, nor a key
 * to a file outside the root). root_dir is created if missing. Returns
 * NULL with a reason in errbuf. store_put is thread-safe. */
store *localstore_new(const char *root_dir, char *errbuf, size_t errlen);

#endif
