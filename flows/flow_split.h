/* flow_split.h - how a coupling layer splits the coordinates into two
 * channels: channel 1 (conditioning, passed through unchanged) and channel 2
 * (transformed as a function of channel 1).
 *
 *   FLOW_SPLIT_ALTERNATE  channel 1 = even coordinates 0,2,4,..; 2 = odd ones
 *                         (Noe: the x's vs the y's of particles; 2-D: x1 | x2)
 *   FLOW_SPLIT_HALF       channel 1 = [0, dim/2), channel 2 = [dim/2, dim)
 *                         (the report's dimer: particles 1-19 | 20-38)
 *   FLOW_SPLIT_MASK       mask[i] != 0 puts coordinate i in channel 1
 *                         (RealNVP's b = 1 is the identity part)
 * `flip` exchanges the two channels.  The arrays belong to the split; release
 * them with flow_split_release.
 */
#ifndef LIBBG_FLOWS_FLOW_SPLIT_H
#define LIBBG_FLOWS_FLOW_SPLIT_H

#include <stddef.h>

typedef enum flow_split_kind {
    FLOW_SPLIT_ALTERNATE = 0,
    FLOW_SPLIT_HALF,
    FLOW_SPLIT_MASK
} flow_split_kind;

typedef struct flow_split {
    int dim;          /* total coordinates                                  */
    int n_cond;       /* channel 1 size                                     */
    int n_trans;      /* channel 2 size                                     */
    int *cond;        /* [n_cond] channel-1 coordinates, increasing         */
    int *trans;       /* [n_trans] channel-2 coordinates, increasing        */
    int *unsplit;     /* [dim] position of coordinate i in [cond | trans],  */
                      /* so gather(concat(c, t), unsplit) restores the order */
} flow_split;

/* AD_OK, or AD_ERR_ARG (bad kind, dim < 2, a mask leaving a channel empty)
 * / AD_ERR_NOMEM, with a message. */
int flow_split_init(flow_split *s, int dim, flow_split_kind kind, const int *mask, int flip,
                    char *msg, size_t msg_len);
void flow_split_release(flow_split *s);
const char *flow_split_kind_name(flow_split_kind kind);

#endif
