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
 * NULL with a reason in errbuf. store_put is thread-safe.
 *
 * list walks the directories that may hold keys under the prefix, gathers
 * the regular files whose keys start with it (passing over the temporary
 * ".millrace-tmp-*" files of puts in progress, and symbolic links), sorts
 * them by byte and calls fn with each file's size; a missing directory
 * holds no keys. It is thread-safe too, and sees a put either whole or not
 * at all. */
store *localstore_new(const char *root_dir, char *errbuf, size_t errlen);

#endif
