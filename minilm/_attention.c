/* Attention of packed sequences in bf16 for head size 32, on CPUs with AVX512-BF16.
 *
 * The bf16 encoder runs a batch of long sequences packed, without padding (minilm/model.py);
 * attention is then one sequence at a time. With PyTorch's kernels that is three calls per
 * sequence and layer (scores, softmax, values), the scores rounded to bf16 between them, and
 * Sleef's exp in the softmax. Here one pass per (sequence, head) keeps the scores in fp32 in
 * cache: the scores and the weighted values are VDPBF16PS dot products with fp32 accumulation,
 * the exp a polynomial on the row less its maximum (every argument <= 0). Only the weights are
 * rounded to bf16 before they multiply the values, as PyTorch's softmax output is.
 *
 * The (sequence, head) items are split over the threads of torch's own OpenMP team (see
 * use_openmp), without the GIL (minilm/fused_attention.py). Built by setuptools as an
 * optional extension: where it is missing, or the CPU lacks AVX512-BF16, PyTorch's path runs.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define HEAD_DIM 32
#define PAIRS (HEAD_DIM / 2) /* bf16 pairs in a row: one 32-bit word each */
#define QUERIES 8            /* queries per pass over the keys (8 beat 4, 12 and 16 on Zen 4) */

#if defined(__x86_64__) && defined(__GNUC__) && (__GNUC__ >= 10 || defined(__clang__))
#define HAVE_KERNEL 1
#include <immintrin.h>
#define TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))

/* exp(x) for x <= 0 (the scores less their row's maximum); exp(-87) ~ 1.6e-38 below -87 (it
 * weighs only zero values or nothing). Range reduction x = n ln2 + r, |r| <= ln2/2, and a
 * degree-6 polynomial: relative error ~1.2e-7, far under the bf16 rounding the weights get
 * next. A NaN stays NaN (maxps returns its second operand when either is NaN), so a NaN or
 * +inf score makes its row NaN, as PyTorch's softmax does. */
TARGET static inline __m512 exp_nonpositive(__m512 x) {
    x = _mm512_max_ps(_mm512_set1_ps(-87.0f), x);
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187045e-06f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

/* The w-th 32-bit word (bf16 pair) of a row, whatever the row's alignment. */
static inline uint32_t word(const uint16_t *row, int w) {
    uint32_t value;
    memcpy(&value, row + 2 * w, sizeof value);
    return value;
}

/* Scratch for one (sequence, head), sized for the longest sequence of a call. */
typedef struct {
    uint32_t *keys;    /* [key block of 16][pair][16 keys]: K transposed by 32-bit words */
    uint32_t *values;  /* [key pair][32 words]: (v[2j][d], v[2j+1][d]) for d = 0..31 */
    float *scores;     /* [QUERIES][padded keys] */
    uint32_t *weights; /* [QUERIES][key pairs]: exp(score - max) in bf16, two keys a word */
} Scratch;

/* One head of one sequence of n tokens. q, k, v: the head's first row of each; rows `stride`
 * bf16 apart. out: the head's first output row; rows `out_stride` apart. */
TARGET static void attend(const uint16_t *q, const uint16_t *k, const uint16_t *v, long stride,
                          uint16_t *out, long out_stride, int n, float scale, Scratch *m) {
    const int blocks = (n + 15) / 16;
    const int padded = blocks * 16;
    const int key_pairs = (n + 1) / 2;
    for (int b = 0; b < blocks; b++)
        for (int i = 0; i < 16; i++) {
            const int j = b * 16 + i;
            const uint16_t *row = k + (long)j * stride;
            for (int w = 0; w < PAIRS; w++) m->keys[(b * PAIRS + w) * 16 + i] = j < n ? word(row, w) : 0;
        }
    /* _mm512_set_epi16 lists lanes from the highest: lane 2d holds a[d], lane 2d+1 b[d]. */
    const __m512i low = _mm512_set_epi16(47, 15, 46, 14, 45, 13, 44, 12, 43, 11, 42, 10, 41, 9,
                                         40, 8, 39, 7, 38, 6, 37, 5, 36, 4, 35, 3, 34, 2, 33, 1,
                                         32, 0);
    const __m512i high = _mm512_set_epi16(63, 31, 62, 30, 61, 29, 60, 28, 59, 27, 58, 26, 57, 25,
                                          56, 24, 55, 23, 54, 22, 53, 21, 52, 20, 51, 19, 50, 18,
                                          49, 17, 48, 16);
    for (int p = 0; p < key_pairs; p++) {
        const __m512i a = _mm512_loadu_si512(v + (long)(2 * p) * stride);
        const __m512i b = 2 * p + 1 < n ? _mm512_loadu_si512(v + (long)(2 * p + 1) * stride)
                                        : _mm512_setzero_si512();
        _mm512_storeu_si512(m->values + p * 32, _mm512_permutex2var_epi16(a, low, b));
        _mm512_storeu_si512(m->values + p * 32 + 16, _mm512_permutex2var_epi16(a, high, b));
    }
    const __m512 vscale = _mm512_set1_ps(scale);
    const __m512 minus_inf = _mm512_set1_ps(-__builtin_inff());
    for (int first = 0; first < n; first += QUERIES) {
        const int rows = n - first < QUERIES ? n - first : QUERIES;
        uint32_t query[QUERIES][PAIRS];
        for (int r = 0; r < QUERIES; r++)
            for (int w = 0; w < PAIRS; w++)
                query[r][w] = r < rows ? word(q + (long)(first + r) * stride, w) : 0;
        __m512 row_max[QUERIES];
        for (int r = 0; r < QUERIES; r++) row_max[r] = minus_inf;
        for (int b = 0; b < blocks; b++) {
            __m512 acc[QUERIES];
            for (int r = 0; r < QUERIES; r++) acc[r] = _mm512_setzero_ps();
            for (int w = 0; w < PAIRS; w++) {
                const __m512bh key = (__m512bh)_mm512_loadu_si512(m->keys + (b * PAIRS + w) * 16);
                for (int r = 0; r < QUERIES; r++)
                    acc[r] = _mm512_dpbf16_ps(acc[r], key, (__m512bh)_mm512_set1_epi32(query[r][w]));
            }
            const __mmask16 real = b * 16 + 16 <= n ? 0xffff : (__mmask16)((1u << (n - b * 16)) - 1);
            for (int r = 0; r < QUERIES; r++) {
                const __m512 s = _mm512_mask_mul_ps(minus_inf, real, acc[r], vscale);
                _mm512_storeu_ps(m->scores + r * padded + b * 16, s);
                row_max[r] = _mm512_max_ps(row_max[r], s);
            }
        }
        float inverse_sum[QUERIES];
        for (int r = 0; r < QUERIES; r++) {
            const __m512 top = _mm512_set1_ps(_mm512_reduce_max_ps(row_max[r]));
            __m512 sum = _mm512_setzero_ps();
            for (int b = 0; b < blocks; b++) {
                const __m512 e =
                    exp_nonpositive(_mm512_sub_ps(_mm512_loadu_ps(m->scores + r * padded + b * 16), top));
                sum = _mm512_add_ps(sum, e);
                _mm256_storeu_si256((__m256i *)(m->weights + r * (padded / 2) + b * 8),
                                    (__m256i)_mm512_cvtneps_pbh(e));
            }
            inverse_sum[r] = 1.0f / _mm512_reduce_add_ps(sum);
        }
        __m512 o[QUERIES][2];
        for (int r = 0; r < QUERIES; r++) o[r][0] = o[r][1] = _mm512_setzero_ps();
        for (int p = 0; p < key_pairs; p++) {
            const __m512bh v0 = (__m512bh)_mm512_loadu_si512(m->values + p * 32);
            const __m512bh v1 = (__m512bh)_mm512_loadu_si512(m->values + p * 32 + 16);
            for (int r = 0; r < QUERIES; r++) {
                const __m512bh w = (__m512bh)_mm512_set1_epi32(m->weights[r * (padded / 2) + p]);
                o[r][0] = _mm512_dpbf16_ps(o[r][0], v0, w);
                o[r][1] = _mm512_dpbf16_ps(o[r][1], v1, w);
            }
        }
        for (int r = 0; r < rows; r++) {
            const __m512 inv = _mm512_set1_ps(inverse_sum[r]);
            uint16_t *dst = out + (long)(first + r) * out_stride;
            _mm256_storeu_si256((__m256i *)dst, (__m256i)_mm512_cvtneps_pbh(_mm512_mul_ps(o[r][0], inv)));
            _mm256_storeu_si256((__m256i *)(dst + 16),
                                (__m256i)_mm512_cvtneps_pbh(_mm512_mul_ps(o[r][1], inv)));
        }
    }
}

TARGET static int run(const uint16_t *qkv, uint16_t *out, const int64_t *offsets, int sequences,
                      int heads, float scale, int part, int parts) {
    int longest = 0;
    for (int i = 0; i < sequences; i++) {
        const int n = (int)(offsets[i + 1] - offsets[i]);
        if (n > longest) longest = n;
    }
    if (longest < 1) return 0; /* no tokens (rows of padding only): nothing to do */
    const size_t padded = (size_t)(longest + 15) / 16 * 16;
    Scratch m;
    m.keys = malloc(padded * PAIRS * 4);
    m.values = malloc((padded / 2) * 32 * 4);
    m.scores = malloc(QUERIES * padded * 4);
    m.weights = malloc(QUERIES * (padded / 2) * 4);
    const int ok = m.keys && m.values && m.scores && m.weights;
    const long stride = 3L * heads * HEAD_DIM;
    long item = 0;
    for (int i = 0; ok && i < sequences; i++) {
        const long start = offsets[i];
        const int n = (int)(offsets[i + 1] - start);
        for (int h = 0; h < heads; h++, item++) {
            if (item % parts != part) continue;
            const uint16_t *query = qkv + start * stride + (long)h * HEAD_DIM;
            attend(query, query + (long)heads * HEAD_DIM, query + 2L * heads * HEAD_DIM, stride,
                   out + start * heads * HEAD_DIM + (long)h * HEAD_DIM, (long)heads * HEAD_DIM, n,
                   scale, &m);
        }
    }
    free(m.keys);
    free(m.values);
    free(m.scores);
    free(m.weights);
    return ok ? 0 : -1;
}
#else
#define HAVE_KERNEL 0
#endif

/* The OpenMP runtime torch runs its threads on (found by the caller in the process: the same
 * library, so the same team of threads). Another team would compete with torch's for the cores
 * while torch's threads spin-wait after their last parallel region. */
typedef void (*parallel_fn)(void (*)(void *), void *, unsigned, unsigned);
typedef int (*thread_query_fn)(void);
static parallel_fn team_parallel;
static thread_query_fn team_thread_num, team_num_threads;

typedef struct {
    const uint16_t *qkv;
    uint16_t *out;
    const int64_t *offsets;
    int sequences, heads;
    float scale;
    int failed;
} Job;

static void job_part(void *data) {
    Job *job = data;
#if HAVE_KERNEL
    if (run(job->qkv, job->out, job->offsets, job->sequences, job->heads, job->scale,
            team_thread_num(), team_num_threads()) != 0)
        __atomic_store_n(&job->failed, 1, __ATOMIC_RELAXED);
#else
    (void)job;
#endif
}

PyDoc_STRVAR(use_openmp_doc,
             "use_openmp(parallel, thread_num, num_threads)\n\n"
             "Addresses of GOMP_parallel, omp_get_thread_num and omp_get_num_threads in the\n"
             "OpenMP runtime torch uses: attention(threads > 1) then runs on its team.");

static PyObject *use_openmp(PyObject *self, PyObject *args) {
    unsigned long long parallel, thread_num, num_threads;
    if (!PyArg_ParseTuple(args, "KKK", &parallel, &thread_num, &num_threads)) return NULL;
    team_parallel = (parallel_fn)(uintptr_t)parallel;
    team_thread_num = (thread_query_fn)(uintptr_t)thread_num;
    team_num_threads = (thread_query_fn)(uintptr_t)num_threads;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(attention_doc,
             "attention(qkv, out, offsets, sequences, heads, scale, threads)\n\n"
             "Addresses of contiguous tensors: qkv (N, 3, heads, 32) bf16, out (N, heads, 32)\n"
             "bf16, offsets (sequences + 1,) int64 token offsets. Without the GIL, on `threads`\n"
             "threads of the OpenMP team set by use_openmp (one thread without it). The caller\n"
             "checks the CPU (AVX512-BF16) and the shapes: nothing is checked here.");

static PyObject *attention(PyObject *self, PyObject *args) {
    unsigned long long qkv, out, offsets;
    int sequences, heads, threads;
    float scale;
    if (!PyArg_ParseTuple(args, "KKKiifi", &qkv, &out, &offsets, &sequences, &heads, &scale,
                          &threads))
        return NULL;
    if (threads < 1 || sequences < 0 || heads < 1) {
        PyErr_SetString(PyExc_ValueError, "attention: need threads >= 1 and heads >= 1");
        return NULL;
    }
#if HAVE_KERNEL
    Job job = {(const uint16_t *)(uintptr_t)qkv, (uint16_t *)(uintptr_t)out,
               (const int64_t *)(uintptr_t)offsets, sequences, heads, scale, 0};
    Py_BEGIN_ALLOW_THREADS
    if (team_parallel != NULL && threads > 1)
        team_parallel(job_part, &job, (unsigned)threads, 0); /* parts: the team's actual size */
    else
        job.failed = run(job.qkv, job.out, job.offsets, sequences, heads, scale, 0, 1) != 0;
    Py_END_ALLOW_THREADS
    if (job.failed) return PyErr_NoMemory();
    Py_RETURN_NONE;
#else
    PyErr_SetString(PyExc_RuntimeError, "attention: built without the AVX512-BF16 kernel");
    return NULL;
#endif
}

static PyMethodDef methods[] = {
    {"attention", attention, METH_VARARGS, attention_doc},
    {"use_openmp", use_openmp, METH_VARARGS, use_openmp_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_attention",
    "Fused bf16 attention of packed sequences (head size 32, AVX512-BF16).", -1, methods,
};

PyMODINIT_FUNC PyInit__attention(void) {
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddIntConstant(m, "HAVE_KERNEL", HAVE_KERNEL) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
