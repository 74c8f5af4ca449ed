#ifndef BAL_CACHE_H
#define BAL_CACHE_H
#include <stdint.h>
#include "ballast/error.h"              /* brings <stddef.h> */
#include "ballast/loader.h"

/* Binary cache of parsed series (SPEC §2, §9).
 *
 * One entry per (input file, load options), in a cache directory that the
 * caller names (never beside the inputs). An entry is used only when the
 * file's size, its mtime in nanoseconds, the XXH3-64 hash of its bytes
 * and the hash of the load options (which includes BAL_CACHE_FORMAT and
 * BAL_VERSION, so a new build never reads an old build's series) all
 * match the entry; the file is always read and hashed, mtime alone is
 * never trusted. Any other entry (stale, truncated, corrupt, foreign) is
 * ignored, the file is parsed and the entry rewritten. Entries are
 * written to a temporary file in the cache directory and renamed into
 * place, so a reader sees a whole entry or none; loads of the same file
 * may run in parallel threads or processes.
 *
 * Entry file (`<16 hex digits>.bal`, the hash of the input's real path
 * and of the options): a 328-byte header, integers in the writer's byte
 * order (an entry from another byte order fails the mark check):
 *     0  char[8]   magic "BALCACHE"
 *     8  uint32    BAL_CACHE_FORMAT
 *    12  uint32    byte-order mark 0x01020304
 *    16  uint64    file size          24  int64  mtime seconds
 *    32  int64     mtime nanoseconds  40  uint64 XXH3-64 of the file
 *    48  uint64    options hash       56  uint64 n (bars)
 *    64  uint64    rows               72  int64  bar_seconds
 *    80  uint64    header_line
 *    88  uint32    flags: 1 open/high/low present, 2 volume present,
 *                  4 all_midnight (other bits must be 0)
 *    92  uint8     delimiter          93  uint8  column roles stored (c)
 *    94  uint8     defect counters stored (d)    95  uint8 0
 *    96  int32[16] col[0..c-1], the rest 0
 *   160  uint64[16] defect counters in bal_defects order, the rest 0
 *   288  char[32]  time_format, NUL-padded ("" = NULL)
 *   320  uint64    checksum: XXH3-64 of bytes 0..319 as seed, then
 *                  chained (each hash the seed of the next) over the
 *                  arrays of the payload
 * then the payload: time (int64), open, high, low (when flag 1), close,
 * volume (when flag 2), n values each. The entry's length must be
 * exactly 328 + 8 n (number of arrays). */
#define BAL_CACHE_FORMAT 1

/* What bal_cache_load found. */
typedef enum bal_cache_state {
    BAL_CACHE_OFF,      /* no lookup: cache_dir NULL or not a regular file */
    BAL_CACHE_HIT,      /* the series was read from a valid entry */
    BAL_CACHE_ABSENT,   /* no entry for this file and these options */
    BAL_CACHE_STALE,    /* an entry whose size, mtime, content hash or
                           options differ */
    BAL_CACHE_INVALID   /* an unusable entry: unreadable, wrong magic,
                           format or byte order, bad lengths, bad
                           checksum */
} bal_cache_state;

/* Filled by bal_cache_load on success. */
typedef struct bal_cache_info {
    bal_cache_state state;
    int written;            /* non-zero: a new entry was written; 0 on a
                               hit, with no cache_dir, or when writing
                               failed (read-only or full directory) or
                               the file changed while it was read */
    uint64_t size;          /* bytes read from the file */
    uint64_t hash;          /* XXH3_64bits of those bytes (seed 0) */
    char hash_hex[17];      /* the same, 16 lowercase hex digits */
} bal_cache_info;
#define BAL_CACHE_INFO_INIT { BAL_CACHE_OFF, 0, 0, 0, "" }

/* Loads the series of the CSV file at path as bal_series_load(out, path,
 * opt, err) would (opt NULL = BAL_LOAD_OPTIONS_INIT), reading it from an
 * entry in cache_dir when one is valid, else parsing the bytes read and
 * writing an entry. cache_dir NULL = no caching: the file is parsed and
 * hashed. cache_dir is created (mode 0700) when missing; failing to
 * create it or to write the entry is not an error (info->written = 0).
 * *out is overwritten, not released first; the caller releases it with
 * bal_series_release. info may be NULL. No global state: safe to call
 * from several threads at once.
 * Returns 0, or the codes of bal_series_load: BAL_EIO (cannot open or
 * read the file; also for a directory), BAL_EPARSE, BAL_EINVAL (bad
 * options, or cache_dir is ""), BAL_ENOMEM. On failure *out is left
 * empty and *info is unspecified. */
int bal_cache_load(bal_series *out, const char *path,
                   const bal_load_options *opt, const char *cache_dir,
                   bal_cache_info *info, bal_error *err);

/* Writes the default cache directory into buf: "<xdg_cache_home>/ballast"
 * when xdg_cache_home is an absolute path (a relative or empty one is
 * ignored, as the XDG base directory spec says; trailing slashes are
 * dropped), else "<home>/.cache/ballast" when home is non-empty. Pure:
 * the CLI passes getenv("XDG_CACHE_HOME") and getenv("HOME"); either may
 * be NULL. Returns 0, or BAL_EINVAL when neither gives a directory or
 * the result does not fit in len bytes (buf is then ""; unchanged if len
 * is 0). */
int bal_cache_default_dir(char *buf, size_t len, const char *xdg_cache_home,
                          const char *home);

#endif /* BAL_CACHE_H */
