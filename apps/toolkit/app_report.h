/* app_report.h - helpers for report.md: headings, paragraphs, markdown
 * tables and image embeds, appended to an app_buf (which the caller owns and
 * then writes with app_fs_write_atomic).  Cell text is made table-safe: '|'
 * is escaped and line breaks become spaces. */
#ifndef LIBBG_APPS_TOOLKIT_APP_REPORT_H
#define LIBBG_APPS_TOOLKIT_APP_REPORT_H

#include "apps/toolkit/app_buf.h"

/* "## text" with level '#'s (1..6), followed by a blank line. */
int app_report_heading(app_buf *b, int level, const char *text);
/* The text and a blank line. */
int app_report_paragraph(app_buf *b, const char *text);
/* A table of n_cols columns: header[n_cols], then n_rows rows of cells in
 * row-major order (cells[r * n_cols + c]; NULL prints as empty). */
int app_report_table(app_buf *b, int n_cols, const char *const *header,
                     const char *const *cells, int n_rows);
/* "![alt](file)" and a blank line; file is relative to report.md. */
int app_report_image(app_buf *b, const char *alt, const char *file);

#endif
