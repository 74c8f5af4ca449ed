#ifndef BAL_ASSET_H
#define BAL_ASSET_H

/* Small enums shared by the loader and the config: an asset's class and
 * the data-cleaning policies of SPEC §2 / §11. */

/* Asset class ("class" in the config). Crypto trades every day, so gaps
 * count weekends for it and for no other class. */
typedef enum bal_asset_class {
    BAL_CLASS_FOREX,
    BAL_CLASS_CRYPTO,
    BAL_CLASS_METAL,
    BAL_CLASS_EQUITY,
    BAL_CLASS_OTHER
} bal_asset_class;

/* `duplicates`: which of several rows with one timestamp is kept, "first"
 * and "last" in the order the file is written; ERROR fails the load. */
typedef enum bal_duplicates {
    BAL_DUP_LAST,
    BAL_DUP_FIRST,
    BAL_DUP_ERROR
} bal_duplicates;

/* `bad_bars`: REPAIR sets high = max(O,H,L,C), low = min(O,H,L,C) and
 * drops bars with a missing or non-positive price; SKIP drops every bad
 * bar; ERROR fails the load at the first one. */
typedef enum bal_bad_bars {
    BAL_BAD_REPAIR,
    BAL_BAD_SKIP,
    BAL_BAD_ERROR
} bal_bad_bars;

#endif /* BAL_ASSET_H */
