#ifndef BAL_VERSION_H
#define BAL_VERSION_H

/* The tool version, written into every report.json. */
#define BAL_VERSION "0.1.0"

#endif /* BAL_VERSION_H */
