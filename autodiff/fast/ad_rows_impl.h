/* ad_rows_impl.h - the bodies of the row kernels (ad_rows.h), included by
 * ad_rows.c once per instruction set with
 *   ROW_TARGET   the target attribute of that set (empty for the baseline)
 *   ROW_NAME(f)  f with that set's suffix
 * so that each set gets its own copy of the same loops, compiled for it.
 * The loops have no multiply-adds to contract (ad_rows.c turns contraction
 * off) and their sums have a fixed order (ad_row_dot's eight partial sums),
 * so every copy rounds the same way: which one runs changes no result.
 * The activations' values and derivatives are ad_act.h's, the ones ad_relu
 * and ad_tanh use.  Internal to autodiff/fast/ad_rows.c.
 */

static ROW_TARGET ad_real ROW_NAME(dot)(const ad_real *a, const ad_real *b, int n)
{
    ad_real s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int p = 0;
    for (; p + 8 <= n; p += 8)
        for (int u = 0; u < 8; u++) s[u] += a[p + u] * b[p + u];
    ad_real r = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
    for (; p < n; p++) r += a[p] * b[p];
    return r;
}

static ROW_TARGET void ROW_NAME(scale)(ad_real *restrict y, ad_real x0, const ad_real *restrict w,
                                       int n)
{
    for (int j = 0; j < n; j++) y[j] = x0 * w[j];
}

static ROW_TARGET void ROW_NAME(outer_act)(ad_real *restrict y, ad_real x0,
                                           const ad_real *restrict w, const ad_real *restrict b,
                                           int n, ad_activation act)
{
    /* the product is rounded before the bias is added, as ad_row_scale
     * followed by ad_row_bias_act would round; one loop per case, as in
     * bias_act: a test inside the loop keeps it from being vectorised */
    if (b)
        for (int j = 0; j < n; j++) {
            ad_real v = x0 * w[j];
            y[j] = v + b[j];
        }
    else
        for (int j = 0; j < n; j++) y[j] = x0 * w[j];
    if (act == AD_ACT_RELU)
        for (int j = 0; j < n; j++) y[j] = ad_act_relu(y[j]);
    else if (act == AD_ACT_TANH)
        for (int j = 0; j < n; j++) y[j] = ad_act_tanh(y[j]);
}

static ROW_TARGET void ROW_NAME(axpy)(ad_real *restrict y, ad_real x0, const ad_real *restrict w,
                                      int n)
{
    for (int j = 0; j < n; j++) y[j] += x0 * w[j];
}

static ROW_TARGET void ROW_NAME(bias_act)(ad_real *restrict y, const ad_real *restrict b, int n,
                                          ad_activation act)
{
    if (b)
        for (int j = 0; j < n; j++) y[j] += b[j];
    if (act == AD_ACT_RELU)
        for (int j = 0; j < n; j++) y[j] = ad_act_relu(y[j]);
    else if (act == AD_ACT_TANH)
        for (int j = 0; j < n; j++) y[j] = ad_act_tanh(y[j]);
}

static ROW_TARGET void ROW_NAME(act_grad)(ad_real *restrict g, const ad_real *restrict y,
                                          const ad_real *restrict dy, ad_real *restrict colsum,
                                          int n, ad_activation act)
{
    if (act == AD_ACT_RELU) /* y > 0 exactly where x W + b > 0 */
        for (int j = 0; j < n; j++) {
            ad_real v = dy[j]; /* loaded unconditionally: a select, not a branch */
            g[j] = ad_act_relu_passes(y[j]) ? v : 0;
        }
    else if (act == AD_ACT_TANH)
        for (int j = 0; j < n; j++) g[j] = dy[j] * ad_act_tanh_slope(y[j]);
    if (colsum)
        for (int j = 0; j < n; j++) colsum[j] += (act == AD_ACT_IDENTITY ? dy : g)[j];
}

static ROW_TARGET void ROW_NAME(act_grad_inplace)(ad_real *restrict g, const ad_real *restrict y,
                                                  ad_real *restrict colsum, int n,
                                                  ad_activation act)
{
    if (act == AD_ACT_RELU)
        for (int j = 0; j < n; j++) g[j] = ad_act_relu_passes(y[j]) ? g[j] : 0;
    else if (act == AD_ACT_TANH)
        for (int j = 0; j < n; j++) g[j] *= ad_act_tanh_slope(y[j]);
    if (colsum)
        for (int j = 0; j < n; j++) colsum[j] += g[j];
}

static const ad_row_kernels ROW_NAME(kernels) = {
    ROW_NAME(dot),      ROW_NAME(scale),    ROW_NAME(outer_act),       ROW_NAME(axpy),
    ROW_NAME(bias_act), ROW_NAME(act_grad), ROW_NAME(act_grad_inplace)};
