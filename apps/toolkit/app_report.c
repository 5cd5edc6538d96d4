/* app_report.c - markdown helpers for report.md. */
#include "apps/toolkit/app_report.h"

#include "autodiff/ad.h"

int app_report_heading(app_buf *b, int level, const char *text)
{
    if (level < 1) level = 1;
    if (level > 6) level = 6;
    app_buf_printf(b, "%.*s ", level, "######");
    app_buf_puts(b, text ? text : "");
    app_buf_puts(b, "\n\n");
    return b->err;
}

int app_report_paragraph(app_buf *b, const char *text)
{
    app_buf_puts(b, text ? text : "");
    app_buf_puts(b, "\n\n");
    return b->err;
}

static void cell(app_buf *b, const char *s)
{
    app_buf_putc(b, ' ');
    for (; s && *s; s++) {
        if (*s == '|') app_buf_puts(b, "\\|");
        else if (*s == '\n' || *s == '\r') app_buf_putc(b, ' ');
        else app_buf_putc(b, *s);
    }
    app_buf_puts(b, " |");
}

int app_report_table(app_buf *b, int n_cols, const char *const *header,
                     const char *const *cells, int n_rows)
{
    if (n_cols < 1 || !header || n_rows < 0 || (n_rows > 0 && !cells)) return AD_ERR_ARG;
    app_buf_putc(b, '|');
    for (int c = 0; c < n_cols; c++) cell(b, header[c]);
    app_buf_puts(b, "\n|");
    for (int c = 0; c < n_cols; c++) app_buf_puts(b, " --- |");
    app_buf_putc(b, '\n');
    for (int r = 0; r < n_rows; r++) {
        app_buf_putc(b, '|');
        for (int c = 0; c < n_cols; c++) cell(b, cells[(size_t)r * n_cols + c]);
        app_buf_putc(b, '\n');
    }
    app_buf_putc(b, '\n');
    return b->err;
}

int app_report_image(app_buf *b, const char *alt, const char *file)
{
    if (!file) return AD_ERR_ARG;
    app_buf_puts(b, "![");
    for (const char *s = alt ? alt : ""; *s; s++) {
        if (*s == '[' || *s == ']') app_buf_putc(b, '\\');
        app_buf_putc(b, *s == '\n' ? ' ' : *s);
    }
    app_buf_puts(b, "](");
    for (const char *s = file; *s; s++) { /* a space or parenthesis would end the link */
        if (*s == ' ') app_buf_puts(b, "%20");
        else if (*s == '(') app_buf_puts(b, "%28");
        else if (*s == ')') app_buf_puts(b, "%29");
        else app_buf_putc(b, *s);
    }
    app_buf_puts(b, ")\n\n");
    return b->err;
}
