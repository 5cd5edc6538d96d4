/* flow_split.c - channel splits of coupling layers. */
#include "flow_split.h"

#include <stdio.h>
#include <string.h>

#include "autodiff/ad.h"

int flow_split_init(flow_split *s, int dim, flow_split_kind kind, const int *mask, int flip,
                    char *msg, size_t msg_len)
{
    memset(s, 0, sizeof *s);
    if (dim < 2) {
        if (msg && msg_len) snprintf(msg, msg_len, "flow_split_init: dim = %d (need >= 2)", dim);
        return AD_ERR_ARG;
    }
    if (kind == FLOW_SPLIT_MASK && !mask) {
        if (msg && msg_len)
            snprintf(msg, msg_len, "flow_split_init: FLOW_SPLIT_MASK without a mask");
        return AD_ERR_ARG;
    }
    if (kind != FLOW_SPLIT_ALTERNATE && kind != FLOW_SPLIT_HALF && kind != FLOW_SPLIT_MASK) {
        if (msg && msg_len)
            snprintf(msg, msg_len, "flow_split_init: unknown split kind %d", (int)kind);
        return AD_ERR_ARG;
    }
    s->dim = dim;
    s->cond = ad_malloc((size_t)dim * sizeof(int));
    s->trans = ad_malloc((size_t)dim * sizeof(int));
    s->unsplit = ad_malloc((size_t)dim * sizeof(int));
    if (!s->cond || !s->trans || !s->unsplit) {
        flow_split_release(s);
        if (msg && msg_len) snprintf(msg, msg_len, "flow_split_init: out of memory");
        return AD_ERR_NOMEM;
    }
    for (int i = 0; i < dim; i++) {
        int in_cond = kind == FLOW_SPLIT_ALTERNATE ? i % 2 == 0
                      : kind == FLOW_SPLIT_HALF    ? i < dim / 2
                                                   : mask[i] != 0;
        if (flip) in_cond = !in_cond;
        if (in_cond)
            s->cond[s->n_cond++] = i;
        else
            s->trans[s->n_trans++] = i;
    }
    if (s->n_cond == 0 || s->n_trans == 0) {
        flow_split_release(s);
        if (msg && msg_len)
            snprintf(msg, msg_len, "flow_split_init: the mask leaves a channel empty");
        return AD_ERR_ARG;
    }
    for (int j = 0; j < s->n_cond; j++) s->unsplit[s->cond[j]] = j;
    for (int j = 0; j < s->n_trans; j++) s->unsplit[s->trans[j]] = s->n_cond + j;
    return AD_OK;
}

void flow_split_release(flow_split *s)
{
    if (!s) return;
    ad_free(s->cond);
    ad_free(s->trans);
    ad_free(s->unsplit);
    memset(s, 0, sizeof *s);
}

const char *flow_split_kind_name(flow_split_kind kind)
{
    switch (kind) {
    case FLOW_SPLIT_ALTERNATE:
        return "alternate";
    case FLOW_SPLIT_HALF:
        return "half";
    case FLOW_SPLIT_MASK:
        return "mask";
    }
    return "unknown";
}
