/* ad_gradcheck.c - finite-difference gradient checking of any tape function. */
#include "ad_gradcheck.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ad_alloc.h"
#include "ad_ops.h"
#include "ad_rng.h"

typedef struct check_state {
    ad_gradcheck_fn f;
    void *ctx;
    int n_inputs;
    ad_tensor *const *inputs;
    ad_real *weights;   /* projection weights, one per output element */
    int unit;           /* 1: weights of 1 (L = sum y) instead        */
    uint64_t seed;      /* seed of the weights                        */
    size_t n_weights;
    ad_tape *tape;
    double abs_sum;     /* sum |w_i y_i| of the last evaluation       */
} check_state;

/* L = sum(w * f(inputs)); the tape is left holding the recording. */
static int evaluate(check_state *s, int with_grad, double *value, ad_tensor **loss)
{
    ad_tape_reset(s->tape);
    ad_tape_set_grad_enabled(s->tape, with_grad);
    ad_tensor *y = s->f(s->tape, s->inputs, s->n_inputs, s->ctx);
    if (!ad_tape_ok(s->tape)) return ad_tape_status(s->tape);
    if (!y || !y->valid) {
        ad_tape_fail(s->tape, AD_ERR_ARG, "ad_gradcheck: the function returned no tensor");
        return AD_ERR_ARG;
    }
    if (!s->weights) {
        ad_rng rng;
        ad_rng_seed(&rng, s->seed, 0);
        s->n_weights = y->size;
        s->weights = ad_malloc((y->size ? y->size : 1) * sizeof(ad_real));
        if (!s->weights) {
            ad_tape_fail(s->tape, AD_ERR_NOMEM, "ad_gradcheck: out of memory");
            return AD_ERR_NOMEM;
        }
        ad_rng_fill_uniform(&rng, s->weights, y->size, 0.5, 1.5);
    }
    if (y->size != s->n_weights) {
        ad_tape_fail(s->tape, AD_ERR_SHAPE, "ad_gradcheck: output size changed between calls");
        return AD_ERR_SHAPE;
    }
    ad_tensor *l;
    if (s->unit) {
        l = ad_sum(s->tape, y);
    } else {
        ad_tensor *w = ad_constant(s->tape, y->n_dims, y->shape, s->weights);
        l = ad_sum(s->tape, ad_mul(s->tape, y, w));
    }
    if (!ad_tape_ok(s->tape)) return ad_tape_status(s->tape);
    *value = l->data[0];
    s->abs_sum = 0;
    for (size_t i = 0; i < y->size; i++)
        s->abs_sum += fabs((double)y->data[i] * (s->unit ? 1 : (double)s->weights[i]));
    if (loss) *loss = l;
    return AD_OK;
}

/* d(sum y)/dx at element j of input x: the tape gradient of the unprojected
 * sum and its central difference with step h (the report's hand-checkable
 * numbers; the pass/fail test stays on the projection). */
static int plain_partial(check_state *s, ad_tensor *x, size_t j, double h,
                         ad_gradcheck_report *rep)
{
    s->unit = 1;
    double l0 = 0, lp = 0, lm = 0;
    ad_tensor *loss = NULL;
    for (int i = 0; i < s->n_inputs; i++) ad_tensor_zero_grad(s->inputs[i]);
    int status = evaluate(s, 1, &l0, &loss);
    if (status == AD_OK) status = ad_backward(s->tape, loss);
    if (status == AD_OK) rep->analytic = x->grad[j];
    ad_real saved = x->data[j];
    ad_real xp = (ad_real)(saved + h), xm = (ad_real)(saved - h); /* as in ad_gradcheck */
    x->data[j] = xp;
    if (status == AD_OK) status = evaluate(s, 0, &lp, NULL);
    x->data[j] = xm;
    if (status == AD_OK) status = evaluate(s, 0, &lm, NULL);
    x->data[j] = saved;
    if (status == AD_OK) rep->numeric = (lp - lm) / ((double)xp - (double)xm);
    s->unit = 0;
    return status;
}

int ad_gradcheck(ad_gradcheck_fn f, void *ctx, int n_inputs, ad_tensor *const *inputs,
                 const ad_gradcheck_options *options, ad_gradcheck_report *rep)
{
    ad_gradcheck_options opt = {0};
    if (options) opt = *options;
    double h_rel = opt.step > 0 ? opt.step : cbrt(AD_REAL_EPS);
    double rtol = opt.rtol > 0 ? opt.rtol : 1e-7;
    double atol = opt.atol > 0 ? opt.atol : 1e-10;
    double safety = opt.safety > 0 ? opt.safety : 10;
    memset(rep, 0, sizeof *rep);
    const struct {
        const char *name;
        double value;
    } fields[4] = {{"step", opt.step}, {"rtol", opt.rtol}, {"atol", opt.atol},
                   {"safety", opt.safety}};
    for (int i = 0; i < 4; i++)
        if (!(fields[i].value >= 0) || !isfinite(fields[i].value)) {
            snprintf(rep->message, sizeof rep->message,
                     "ad_gradcheck: options->%s = %g (need finite >= 0; 0: the default)",
                     fields[i].name, fields[i].value);
            return AD_ERR_ARG;
        }
    if (!f || n_inputs < 1 || !inputs) {
        snprintf(rep->message, sizeof rep->message, "ad_gradcheck: bad arguments");
        return AD_ERR_ARG;
    }
    for (int i = 0; i < n_inputs; i++) {
        int rc = inputs[i] ? ad_tensor_require_grad(inputs[i]) : AD_ERR_ARG;
        if (rc == AD_ERR_NOMEM) {
            snprintf(rep->message, sizeof rep->message, "ad_gradcheck: out of memory");
            return rc;
        }
        if (rc != AD_OK) {
            snprintf(rep->message, sizeof rep->message,
                     "ad_gradcheck: input %d cannot hold a gradient", i);
            return AD_ERR_ARG;
        }
    }
    for (int i = 0; i < n_inputs; i++)
        if (!inputs[i]->grad) {
            snprintf(rep->message, sizeof rep->message,
                     "ad_gradcheck: input %d has no gradient buffer (a heap tensor or a view "
                     "with one is needed)", i);
            return AD_ERR_ARG;
        }
    check_state s = {f, ctx, n_inputs, inputs, NULL, 0, opt.seed ? opt.seed : 0x5eed, 0,
                     ad_tape_new(0), 0};
    if (!s.tape) {
        snprintf(rep->message, sizeof rep->message, "ad_gradcheck: out of memory");
        return AD_ERR_NOMEM;
    }
    int status = AD_OK;
    double l0 = 0;
    ad_tensor *loss = NULL;
    for (int i = 0; i < n_inputs; i++) ad_tensor_zero_grad(inputs[i]);
    status = evaluate(&s, 1, &l0, &loss);
    if (status == AD_OK) status = ad_backward(s.tape, loss);
    if (status != AD_OK) {
        snprintf(rep->message, sizeof rep->message, "%s", ad_tape_error(s.tape));
        goto done;
    }
    rep->ok = 1;
    double worst_h = 0;
    for (int i = 0; i < n_inputs && status == AD_OK; i++) {
        ad_tensor *x = inputs[i];
        for (size_t j = 0; j < x->size; j++) {
            ad_real saved = x->data[j];
            double h = h_rel * fmax(1.0, fabs(saved));
            double lp1, lm1, lp2, lm2;
            /* The points actually evaluated are saved +- h rounded to
             * ad_real; the differences divide by their true distance (in a
             * float build h ~ 5e-3 |x| is off by up to eps / h_rel ~ 2e-5 of
             * itself after rounding, more than the difference's own error). */
            ad_real xp1 = (ad_real)(saved + h), xm1 = (ad_real)(saved - h);
            ad_real xp2 = (ad_real)(saved + 2 * h), xm2 = (ad_real)(saved - 2 * h);
            x->data[j] = xp1;
            status = evaluate(&s, 0, &lp1, NULL);
            x->data[j] = xm1;
            if (status == AD_OK) status = evaluate(&s, 0, &lm1, NULL);
            x->data[j] = xp2;
            if (status == AD_OK) status = evaluate(&s, 0, &lp2, NULL);
            x->data[j] = xm2;
            if (status == AD_OK) status = evaluate(&s, 0, &lm2, NULL);
            x->data[j] = saved;
            if (status != AD_OK) {
                snprintf(rep->message, sizeof rep->message, "%s", ad_tape_error(s.tape));
                rep->ok = 0;
                break;
            }
            double d1 = (lp1 - lm1) / ((double)xp1 - (double)xm1);
            double d2 = (lp2 - lm2) / ((double)xp2 - (double)xm2);
            double scale = fmax(fmax(fabs(lp1), fabs(lm1)), fabs(l0));
#ifdef AD_REAL_FLOAT
            /* In single precision every output carries the rounding of its
             * own intermediates, eps |w_i y_i| and more, which |L| does not
             * bound when the projection cancels: the scale is sum |w_i y_i|
             * (the double build keeps |L|, which its tests were derived with). */
            scale = fmax(scale, s.abs_sum);
#endif
            double truncation = fabs(d2 - d1) / 3;
            double rounding = AD_REAL_EPS * scale / h;
            double tol = safety * (truncation + rounding) + rtol * fabs(d1) + atol;
            double analytic = x->grad[j];
            double err = fabs(analytic - d1);
            double ratio = isfinite(err) ? err / tol : INFINITY;
            rep->n_checked++;
            if (ratio > rep->worst_ratio || rep->n_checked == 1) {
                rep->worst_ratio = ratio;
                rep->worst_input = i;
                rep->worst_index = j;
                rep->proj_analytic = analytic;
                rep->proj_numeric = d1;
                rep->tolerance = tol;
                worst_h = h;
            }
            if (!(ratio <= 1)) {
                rep->ok = 0;
                rep->n_failed++;
            }
        }
    }
    if (status == AD_OK && rep->n_checked > 0)
        status = plain_partial(&s, inputs[rep->worst_input], rep->worst_index, worst_h, rep);
    if (status == AD_OK) {
        if (rep->n_checked > 0)
            snprintf(rep->message, sizeof rep->message,
                     "%s: %zu of %zu elements failed; worst: input %d element %zu, "
                     "d(sum y)/dx = %.10g (tape), %.10g (central difference); "
                     "error/tolerance %.3g",
                     rep->ok ? "passed" : "FAILED", rep->n_failed, rep->n_checked,
                     rep->worst_input, rep->worst_index, rep->analytic, rep->numeric,
                     rep->worst_ratio);
        else
            snprintf(rep->message, sizeof rep->message, "passed: no elements to check");
    } else if (!rep->message[0]) {
        snprintf(rep->message, sizeof rep->message, "%s", ad_tape_error(s.tape));
        rep->ok = 0;
    }
done:
    ad_free(s.weights);
    ad_tape_free(s.tape);
    return status;
}
