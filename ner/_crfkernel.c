/* The compiled twin of ner.crf.decode_numpy: Viterbi paths and the marginals at wanted tokens, row by row.
 *
 * Built as the optional extension ner._crfkernel (setup.py); ner.crf falls back to the numpy reference
 * when it is missing.  No numpy headers: arrays arrive through the buffer protocol, C-contiguous,
 * already converted by ner.crf (float64, int64, uint8), with their shapes passed alongside.
 *
 * Exactness.  The Viterbi recursion performs the reference's float operations in its order
 * (delta[i] + trans[i, j], the maximum over i with the first index winning ties, then + emission),
 * so paths are bit-identical.  Forward-backward runs the same recursion in probability space
 * (renormalised every RENORM steps, the exp'd transition tables computed by numpy), with the
 * emissions' exponentials from libm and sums in a fixed order, so marginals agree with the reference
 * to the last bits, as the reference's own BLAS products do across memory layouts.
 *
 * Sparsity.  Given the allowed moves (small tag sets: ner.crf.PRUNE_BELOW), Viterbi visits, for each
 * tag, its allowed predecessors first; the others are skipped when an upper bound (best previous score
 * + best disallowed transition into the tag) is strictly below the best allowed move, which keeps the
 * result exact whatever the learned transitions are.  Without them it visits every move in a loop the
 * compiler vectorises, faster from about 20 tags on.  Forward-backward stays dense: the learned
 * "disallowed" moves are not -inf (about exp(-15) to exp(-5) of the allowed ones) and show in the
 * marginals' sixth decimal.
 * It runs only as far as the outermost wanted tokens, and not at all for a row without any.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define RENORM 8

/* x86-64 Linux with GCC: an AVX2 clone of the dense products besides the baseline one, picked at load
 * time.  Each lane sums in the baseline's order and no multiply-add is fused, so both clones give the
 * same bits. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define MULTIVERSION __attribute__((target_clones("avx2", "default")))
#else
#define MULTIVERSION
#endif

typedef struct {
    Py_ssize_t K;
    const double *trans, *trans_t;      /* log-space transitions[i, j] at trans[i * K + j] and trans_t[j * K + i] */
    const double *start, *end;
    const double *a, *at, *pstart, *pend; /* exp'd and max-shifted: a[i, j], its transpose, start, end */
    const unsigned char *wanted;        /* (K,) tags whose marginal is asked for */
    const int32_t *allowed;             /* CSR over target tags: allowed_ptr[j]..allowed_ptr[j+1] */
    const int32_t *allowed_ptr;
    const double *worst_gap;            /* (K,) best disallowed transition into each tag, -inf if none */
    int sparse;
} Tables;

typedef struct {
    double *delta, *next, *vec, *e, *fwd, *bwd;
    double *arg;
    int32_t *back;
} Work;

/* One Viterbi step over all moves, i outer and j inner, branch-free on doubles only (the predecessor is
 * kept as a double), so the compiler vectorises over j; strict > keeps the first i of a tie. */
MULTIVERSION static void viterbi_step_dense(const double *trans, const double *d, const double *row, double *nd,
                                            double *arg, int32_t *bk, Py_ssize_t K)
{
    for (Py_ssize_t j = 0; j < K; j++) {
        nd[j] = d[0] + trans[j];
        arg[j] = 0.0;
    }
    for (Py_ssize_t i = 1; i < K; i++) {
        const double di = d[i], fi = (double)i;
        const double *tr = trans + i * K;
        for (Py_ssize_t j = 0; j < K; j++) {
            const double s = di + tr[j];
            const int gt = s > nd[j];
            nd[j] = gt ? s : nd[j];
            arg[j] = gt ? fi : arg[j];
        }
    }
    for (Py_ssize_t j = 0; j < K; j++) {
        nd[j] += row[j];
        bk[j] = (int32_t)arg[j];
    }
}

/* Best tag path of one row; back-pointers of step t at back[t * K]. */
static void viterbi_row(const Tables *tb, const double *em, Py_ssize_t L, Work *w, int64_t *path)
{
    const Py_ssize_t K = tb->K;
    double *d = w->delta, *nd = w->next;
    for (Py_ssize_t j = 0; j < K; j++)
        d[j] = tb->start[j] + em[j];
    for (Py_ssize_t t = 1; t < L; t++) {
        const double *row = em + t * K;
        int32_t *bk = w->back + t * K;
        if (!tb->sparse) {
            viterbi_step_dense(tb->trans, d, row, nd, w->arg, bk, K);
            double *tmp = d;
            d = nd;
            nd = tmp;
            continue;
        }
        double top = d[0];
        for (Py_ssize_t i = 1; i < K; i++)
            if (d[i] > top)
                top = d[i];
        for (Py_ssize_t j = 0; j < K; j++) {
            const double *tr = tb->trans_t + j * K;   /* the moves into j, contiguous */
            double best;
            int32_t arg;
            Py_ssize_t lo = tb->sparse ? tb->allowed_ptr[j] : 0, hi = tb->sparse ? tb->allowed_ptr[j + 1] : 0;
            if (hi > lo) {
                int32_t i0 = tb->allowed[lo];
                best = d[i0] + tr[i0];
                arg = i0;
                for (Py_ssize_t n = lo + 1; n < hi; n++) {
                    int32_t i = tb->allowed[n];
                    double s = d[i] + tr[i];
                    if (s > best) {
                        best = s;
                        arg = i;
                    }
                }
                /* rounding is monotone: no disallowed move reaches top + worst_gap[j], so none ties */
                if (top + tb->worst_gap[j] < best) {
                    nd[j] = best + row[j];
                    bk[j] = arg;
                    continue;
                }
            }
            best = d[0] + tr[0];
            arg = 0;
            for (Py_ssize_t i = 1; i < K; i++) {
                double s = d[i] + tr[i];
                if (s > best) {
                    best = s;
                    arg = (int32_t)i;
                }
            }
            nd[j] = best + row[j];
            bk[j] = arg;
        }
        double *tmp = d;
        d = nd;
        nd = tmp;
    }
    double best = d[0] + tb->end[0];
    int64_t arg = 0;
    for (Py_ssize_t j = 1; j < K; j++) {
        double s = d[j] + tb->end[j];
        if (s > best) {
            best = s;
            arg = j;
        }
    }
    path[L - 1] = arg;
    for (Py_ssize_t t = L - 1; t > 0; t--)
        path[t - 1] = w->back[t * K + path[t]];
}

/* out = v @ m for a (K, K) row-major m; the inner loop runs over contiguous memory. */
static inline void vecmat(const double *v, const double *m, double *out, Py_ssize_t K)
{
    for (Py_ssize_t j = 0; j < K; j++)
        out[j] = 0.0;
    for (Py_ssize_t i = 0; i < K; i++) {
        const double vi = v[i];
        const double *mi = m + i * K;
        for (Py_ssize_t j = 0; j < K; j++)
            out[j] += vi * mi[j];
    }
}

static inline void renorm(double *v, Py_ssize_t K)
{
    double s = 0.0;
    for (Py_ssize_t j = 0; j < K; j++)
        s += v[j];
    for (Py_ssize_t j = 0; j < K; j++)
        v[j] /= s;
}

/* Marginal of the path's tag at every wanted token of one row (others stay 0). */
MULTIVERSION static void marginals_row(const Tables *tb, const double *em, Py_ssize_t L, Work *w, const int64_t *path,
                          double *prob)
{
    const Py_ssize_t K = tb->K;
    Py_ssize_t first = -1, last = -1;
    for (Py_ssize_t t = 0; t < L; t++)
        if (tb->wanted[path[t]]) {
            if (first < 0)
                first = t;
            last = t;
        }
    if (last < 0)
        return;
    double *e = w->e;
    for (Py_ssize_t t = 0; t < L; t++) {
        const double *row = em + t * K;
        double top = row[0];
        for (Py_ssize_t k = 1; k < K; k++)
            if (row[k] > top)
                top = row[k];
        for (Py_ssize_t k = 0; k < K; k++)
            e[t * K + k] = exp(row[k] - top);
    }
    /* forward: fwd[t] is the mass arriving at t, before t's emission */
    double *post = w->vec;
    memcpy(w->fwd, tb->pstart, K * sizeof(double));
    for (Py_ssize_t t = 0;; t++) {
        double *pre = w->fwd + t * K;
        if (t) {
            vecmat(post, tb->a, pre, K);
            if (t % RENORM == 0)
                renorm(pre, K);
        }
        if (t == last)
            break;
        for (Py_ssize_t k = 0; k < K; k++)
            post[k] = pre[k] * e[t * K + k];
    }
    /* backward, as a forward pass over the reversed row: bwd[s] holds the mass from L-1-s on, with its emission */
    Py_ssize_t steps = L - 1 - first;
    double *pre = w->vec;
    memcpy(pre, tb->pend, K * sizeof(double));
    for (Py_ssize_t s = 0; s <= steps; s++) {
        double *out = w->bwd + s * K;
        if (s) {
            vecmat(w->bwd + (s - 1) * K, tb->at, pre, K);
            if (s % RENORM == 0)
                renorm(pre, K);
        }
        const double *et = e + (L - 1 - s) * K;
        for (Py_ssize_t k = 0; k < K; k++)
            out[k] = pre[k] * et[k];
    }
    for (Py_ssize_t t = first; t <= last; t++) {
        if (!tb->wanted[path[t]])
            continue;
        const double *f = w->fwd + t * K, *b = w->bwd + (L - 1 - t) * K;
        double total = 0.0;
        for (Py_ssize_t k = 0; k < K; k++)
            total += f[k] * b[k];
        prob[t] = f[path[t]] * b[path[t]] / total;
    }
}

static int check(Py_buffer *b, Py_ssize_t n, Py_ssize_t itemsize, const char *name)
{
    if (b->len != n * itemsize) {
        PyErr_Format(PyExc_ValueError, "%s holds %zd bytes, expected %zd", name, b->len, n * itemsize);
        return 0;
    }
    return 1;
}

PyDoc_STRVAR(decode_doc,
"decode(em, lengths, trans, trans_t, start, end, a, at, pstart, pend, wanted, allowed, allowed_ptr, worst_gap,\n"
"       paths, probs, batch, seq_len, num_tags) -> bool\n\n"
"Fill paths (int64, preset to -1) and probs (float64, preset to 0) as ner.crf.decode_numpy does.\n"
"Returns False, touching nothing, when the input needs the reference (a non-finite emission or a\n"
"length outside [0, seq_len]).  allowed_ptr (num_tags + 1 offsets into allowed, by target tag) may be\n"
"empty: then every move is visited.");

static PyObject *decode(PyObject *self, PyObject *args)
{
    Py_buffer bufs[16];
    Py_ssize_t B, T, K;
    memset(bufs, 0, sizeof(bufs));
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*y*y*y*y*y*y*y*y*w*w*nnn", &bufs[0], &bufs[1], &bufs[15], &bufs[2],
                          &bufs[3], &bufs[4], &bufs[5], &bufs[6], &bufs[7], &bufs[8], &bufs[9], &bufs[10],
                          &bufs[11], &bufs[12], &bufs[13], &bufs[14], &B, &T, &K))
        return NULL;
    PyObject *result = NULL;
    Work w;
    memset(&w, 0, sizeof(w));
    if (B < 0 || T < 0 || K < 1 || K > INT32_MAX ||
        !check(&bufs[0], B * T * K, 8, "em") || !check(&bufs[1], B, 8, "lengths") ||
        !check(&bufs[15], K * K, 8, "trans") || !check(&bufs[2], K * K, 8, "trans_t") || !check(&bufs[3], K, 8, "start") || !check(&bufs[4], K, 8, "end") ||
        !check(&bufs[5], K * K, 8, "a") || !check(&bufs[6], K * K, 8, "at") || !check(&bufs[7], K, 8, "pstart") ||
        !check(&bufs[8], K, 8, "pend") || !check(&bufs[9], K, 1, "wanted") ||
        !check(&bufs[11], bufs[11].len ? K + 1 : 0, 4, "allowed_ptr") ||
        !check(&bufs[10], bufs[11].len ? ((const int32_t *)bufs[11].buf)[K] : 0, 4, "allowed") ||
        !check(&bufs[12], K, 8, "worst_gap") ||
        !check(&bufs[13], B * T, 8, "paths") || !check(&bufs[14], B * T, 8, "probs"))
        goto done;
    const double *em = bufs[0].buf;
    const int64_t *lengths = bufs[1].buf;
    Tables tb = {K, bufs[15].buf, bufs[2].buf, bufs[3].buf, bufs[4].buf, bufs[5].buf, bufs[6].buf, bufs[7].buf, bufs[8].buf,
                 bufs[9].buf, bufs[10].buf, bufs[11].buf, bufs[12].buf, bufs[11].len > 0};
    int64_t *paths = bufs[13].buf;
    double *probs = bufs[14].buf;
    for (Py_ssize_t b = 0; b < B; b++)
        if (lengths[b] < 0 || lengths[b] > T) {
            result = Py_False;
            goto done;
        }
    for (Py_ssize_t n = 0; n < B * T * K; n++)
        if (!isfinite(em[n])) {
            result = Py_False;
            goto done;
        }
    if (T > 0) {
        size_t tk = (size_t)T * (size_t)K;
        w.delta = PyMem_RawMalloc(4 * K * sizeof(double));
        w.e = PyMem_RawMalloc(3 * tk * sizeof(double));
        w.back = PyMem_RawMalloc(tk * sizeof(int32_t));
        if (!w.delta || !w.e || !w.back) {
            PyErr_NoMemory();
            goto done;
        }
        w.next = w.delta + K;
        w.vec = w.delta + 2 * K;
        w.arg = w.delta + 3 * K;
        w.fwd = w.e + tk;
        w.bwd = w.e + 2 * tk;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t b = 0; b < B; b++) {
            Py_ssize_t L = (Py_ssize_t)lengths[b];
            if (L == 0)
                continue;
            const double *row = em + b * T * K;
            viterbi_row(&tb, row, L, &w, paths + b * T);
            marginals_row(&tb, row, L, &w, paths + b * T, probs + b * T);
        }
        Py_END_ALLOW_THREADS
    }
    result = Py_True;
done:
    PyMem_RawFree(w.delta);
    PyMem_RawFree(w.e);
    PyMem_RawFree(w.back);
    for (int n = 0; n < 16; n++)
        if (bufs[n].obj)
            PyBuffer_Release(&bufs[n]);
    Py_XINCREF(result);
    return result;
}

static PyMethodDef methods[] = {
    {"decode", decode, METH_VARARGS, decode_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_crfkernel", "Compiled CRF decoding for ner.crf (optional; numpy is the reference).",
    -1, methods,
};

PyMODINIT_FUNC PyInit__crfkernel(void)
{
    return PyModule_Create(&module);
}
