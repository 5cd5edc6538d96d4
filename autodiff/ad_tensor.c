/* ad_tensor.c - heap tensors and shape utilities. */
#include "ad_tensor.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ad_alloc.h"

size_t ad_shape_size(int n_dims, const int *shape)
{
    /* Saturates at SIZE_MAX instead of wrapping, so an absurd shape fails the
     * allocation instead of producing a small buffer with a large shape. */
    size_t n = 1;
    int saturated = 0;
    for (int i = 0; i < n_dims; i++) {
        size_t d = (size_t)shape[i];
        if (d == 0) return 0;
        if (n > SIZE_MAX / d) saturated = 1;
        else n *= d;
    }
    return saturated ? SIZE_MAX : n;
}

int ad_shape_valid(int n_dims, const int *shape)
{
    if (n_dims < 0 || n_dims > AD_MAX_DIMS) return 0;
    if (n_dims > 0 && !shape) return 0;
    for (int i = 0; i < n_dims; i++)
        if (shape[i] < 0) return 0;
    return 1;
}

int ad_tensor_same_shape(const ad_tensor *a, const ad_tensor *b)
{
    if (a->n_dims != b->n_dims) return 0;
    for (int i = 0; i < a->n_dims; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

char *ad_shape_str(int n_dims, const int *shape, char *buf, size_t len)
{
    size_t at = 0;
    if (len == 0) return buf;
    buf[0] = '\0';
    at += (size_t)snprintf(buf + at, len - at, "[");
    for (int i = 0; i < n_dims && at < len; i++)
        at += (size_t)snprintf(buf + at, len - at, i ? ",%d" : "%d", shape[i]);
    if (at < len) snprintf(buf + at, len - at, "]");
    return buf;
}

int ad_tensor_cols(const ad_tensor *x)
{
    return x->n_dims == 0 ? 1 : x->shape[x->n_dims - 1];
}

int ad_tensor_rows(const ad_tensor *x)
{
    int cols = ad_tensor_cols(x);
    return cols == 0 ? 0 : (int)(x->size / (size_t)cols);
}

static void set_shape(ad_tensor *x, int n_dims, const int *shape)
{
    x->n_dims = n_dims;
    for (int i = 0; i < AD_MAX_DIMS; i++) x->shape[i] = i < n_dims ? shape[i] : 1;
    x->size = ad_shape_size(n_dims, shape);
    x->valid = 1;
}

ad_tensor *ad_tensor_new(int n_dims, const int *shape)
{
    if (!ad_shape_valid(n_dims, shape)) return NULL;
    ad_tensor *x = ad_calloc(1, sizeof *x);
    if (!x) return NULL;
    set_shape(x, n_dims, shape);
    x->data = x->size <= SIZE_MAX / sizeof(ad_real) ? ad_calloc(x->size, sizeof(ad_real)) : NULL;
    if (!x->data) {
        ad_free(x);
        return NULL;
    }
    x->on_heap = 1;
    x->owns_memory = 1;
    return x;
}

ad_tensor *ad_tensor_from(int n_dims, const int *shape, const ad_real *data)
{
    ad_tensor *x = ad_tensor_new(n_dims, shape);
    if (x && data && x->size) memcpy(x->data, data, x->size * sizeof(ad_real));
    return x;
}

ad_tensor *ad_tensor_new_param(int n_dims, const int *shape)
{
    ad_tensor *x = ad_tensor_new(n_dims, shape);
    if (x && ad_tensor_require_grad(x) != AD_OK) {
        ad_tensor_free(x);
        return NULL;
    }
    return x;
}

int ad_tensor_require_grad(ad_tensor *x)
{
    if (!x || !x->valid) return AD_ERR_ARG;
    if (x->on_heap && !x->grad) {
        x->grad = ad_calloc(x->size, sizeof(ad_real));
        if (!x->grad) return AD_ERR_NOMEM;
    }
    x->requires_grad = 1;
    return AD_OK;
}

void ad_tensor_zero_grad(ad_tensor *x)
{
    if (x && x->grad && x->size) memset(x->grad, 0, x->size * sizeof(ad_real));
}

int ad_tensor_init_view(ad_tensor *x, int n_dims, const int *shape,
                        ad_real *data, ad_real *grad)
{
    if (!x || !ad_shape_valid(n_dims, shape)) return AD_ERR_ARG;
    memset(x, 0, sizeof *x);
    set_shape(x, n_dims, shape);
    x->data = data;
    x->grad = grad;
    x->requires_grad = grad != NULL;
    return AD_OK;
}

void ad_tensor_free(ad_tensor *x)
{
    if (!x || !x->on_heap) return;
    if (x->owns_memory) {
        ad_free(x->data);
        ad_free(x->grad);
    }
    ad_free(x);
}
