/* The encoder's own CPU kernels: attention of packed sequences for head size 32 in bf16 (on
 * CPUs with AVX512-BF16) and in fp32 (AVX-512F: attend_fp32), and LayerNorm of bf16 rows
 * (layer_norm_rows, at the end).
 *
 * The bf16 encoder runs a batch of long sequences packed, without padding (minilm/model.py);
 * attention is then one sequence at a time. With PyTorch's kernels that is three calls per
 * sequence and layer (scores, softmax, values), the scores rounded to bf16 between them, and
 * Sleef's exp in the softmax. Here one pass per (sequence, head) keeps the scores in fp32 in
 * cache: the scores and the weighted values are VDPBF16PS dot products with fp32 accumulation,
 * the softmax (softmax_row, both paths) 2^x by a polynomial on the row less its maximum, the
 * scale and log2 e folded into its argument. Only the weights are rounded to bf16 before they
 * multiply the values, as PyTorch's softmax output is.
 *
 * On CPUs with AMX the scores and the weighted values are tile products instead (attend_amx):
 * 16 queries at a time against 16 keys (scores) or 32 keys (values), from the same key and
 * value layouts, the softmax between them as above.
 *
 * The (sequence, head) items are split over the threads of torch's own OpenMP team (see
 * use_openmp), without the GIL (minilm/fused_attention.py, minilm/cpu_kernels.py). Built by
 * setuptools as an optional extension: where it is missing, or the CPU lacks AVX-512 (AVX512-BF16
 * for the bf16 kernels), PyTorch's path runs.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#define HEAD_DIM 32
#define PAIRS (HEAD_DIM / 2) /* bf16 pairs in a row: one 32-bit word each */
#define QUERIES 8            /* queries per pass over the keys (8 beat 4, 12 and 16 on Zen 4) */
#define TILE_ROWS 16         /* an AMX tile: 16 rows of 64 bytes (32 bf16 or 16 fp32) */
#define KEY_ALIGN 32         /* keys padded to this: the values product takes 32 keys a tile */

/* The kernels `run` dispatches to (attention's `kernel` argument). */
enum { KERNEL_BF16, KERNEL_AMX, KERNEL_FP32, KERNEL_FP32_AVX2 };

#if defined(__x86_64__) && defined(__GNUC__) && (__GNUC__ >= 10 || defined(__clang__))
#define HAVE_KERNEL 1
#include <immintrin.h>
#define TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))
#define F32_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))

/* 2^x for x <= 0 (x = the scaled score less the row's maximum, in base 2); 2^-126 below -126
 * (it weighs only zero values or nothing). x = n + f, |f| <= 1/2, and a polynomial for 2^f,
 * its `degree` + 1 coefficients from the highest (a constant count: the loop unrolls). A NaN
 * stays NaN (maxps returns its second operand when either is NaN), so a NaN or +inf score makes
 * its row NaN, as PyTorch's softmax does. */
F32_TARGET static inline __m512 exp2_by(__m512 x, const float *coefficients, int degree) {
    x = _mm512_max_ps(_mm512_set1_ps(-126.0f), x);
    const __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(coefficients[0]);
    for (int i = 1; i <= degree; i++) p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(coefficients[i]));
    return _mm512_scalef_ps(p, n);
}

/* For bf16 weights: degree 4 (least relative error, 2.7e-6: under the bf16 rounding the weights
 * get next, 2^-9; 9 vector operations a score, against 15 for exp by ln 2 and a degree-6
 * polynomial). */
static const float EXP2_BF16[] = {0.009570068679749966f, 0.055917806923389435f, 0.240247443318367f,
                                  0.6931218504905701f, 0.9999992847442627f};
TARGET static inline __m512 exp2_nonpositive(__m512 x) { return exp2_by(x, EXP2_BF16, 4); }

/* A row's exponent arguments, base2 * (s - max) for scores s (base2: the scale times log2 e):
 * one fused multiply-add with the shift -base2 * max (rounded) while |base2 * max| < 2^22,
 * where that rounding puts the row's largest argument within 1/4 of 0; past it (scores of
 * millions, which no trained model gives) the difference first, exact near the maximum, as
 * PyTorch takes it: the rounding made the largest argument over 127 past 2^31 (2^x overflowed). */
typedef struct {
    __m512 scale, max, shift;
    int exact;
} Exponent;

/* The Exponent of a row of scores: the maximum of its first n. */
F32_TARGET static inline Exponent row_exponent(const float *scores, int n, float scale) {
    const int full = n / 16;
    const __mmask16 tail = (__mmask16)((1u << (n - full * 16)) - 1);
    __m512 row_max = _mm512_set1_ps(-__builtin_inff());
    for (int b = 0; b < full; b++) row_max = _mm512_max_ps(row_max, _mm512_loadu_ps(scores + b * 16));
    if (tail) row_max = _mm512_mask_max_ps(row_max, tail, row_max, _mm512_loadu_ps(scores + full * 16));
    const float base2 = scale * 1.44269504088896341f, top = _mm512_reduce_max_ps(row_max);
    const Exponent x = {_mm512_set1_ps(base2), _mm512_set1_ps(top), _mm512_set1_ps(-base2 * top),
                        __builtin_fabsf(base2 * top) >= 4194304.0f /* 2^22 */};
    return x;
}

F32_TARGET static inline __m512 exponent(const float *scores, const Exponent *x) {
    const __m512 s = _mm512_loadu_ps(scores);
    return x->exact ? _mm512_mul_ps(_mm512_sub_ps(s, x->max), x->scale)
                    : _mm512_fmadd_ps(s, x->scale, x->shift);
}

/* One row of scores (`padded` keys, fp32, unscaled) into bf16 weights exp(scale * (s - max)),
 * zero past the n-th key; returns 1 / (their sum). The scale (and log2 e) goes into the
 * exponent's argument (row_exponent): no pass writes scaled scores back. */
TARGET static float softmax_row(const float *scores, uint32_t *weights, int n, int padded,
                                float scale) {
    const int full = n / 16;
    const __mmask16 tail = (__mmask16)((1u << (n - full * 16)) - 1);
    const Exponent x = row_exponent(scores, n, scale);
    __m512 sum = _mm512_setzero_ps();
    for (int b = 0; b < full; b++) {
        const __m512 e = exp2_nonpositive(exponent(scores + b * 16, &x));
        sum = _mm512_add_ps(sum, e);
        _mm256_storeu_si256((__m256i *)(weights + b * 8), (__m256i)_mm512_cvtneps_pbh(e));
    }
    for (int b = full; b < padded / 16; b++) { /* the last keys, then zeros */
        const __mmask16 real = b == full ? tail : 0;
        const __m512 e = _mm512_maskz_mov_ps(
            real, exp2_nonpositive(exponent(scores + b * 16, &x)));
        sum = _mm512_add_ps(sum, e);
        _mm256_storeu_si256((__m256i *)(weights + b * 8), (__m256i)_mm512_cvtneps_pbh(e));
    }
    return 1.0f / _mm512_reduce_add_ps(sum);
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
    float *scores;     /* [TILE_ROWS][padded keys] */
    uint32_t *weights; /* [TILE_ROWS][key pairs]: exp(score - max) in bf16, two keys a word */
} Scratch;

/* 16 rows of 16 32-bit words transposed into out[w * 16 + i] = word w of row i: pairs within
 * 128-bit lanes, then pairs of pairs, then the lanes themselves. */
TARGET static void transpose_words(const __m512i rows[16], uint32_t *out) {
    __m512i pairs[16], quads[16];
    for (int i = 0; i < 16; i += 2) { /* lane L: words 4L+0,1 (lo) or 4L+2,3 (hi) of rows i, i+1 */
        pairs[i] = _mm512_unpacklo_epi32(rows[i], rows[i + 1]);
        pairs[i + 1] = _mm512_unpackhi_epi32(rows[i], rows[i + 1]);
    }
    for (int g = 0; g < 16; g += 4) { /* quads[g + c], lane L: word 4L+c of rows g..g+3 */
        quads[g] = _mm512_unpacklo_epi64(pairs[g], pairs[g + 2]);
        quads[g + 1] = _mm512_unpackhi_epi64(pairs[g], pairs[g + 2]);
        quads[g + 2] = _mm512_unpacklo_epi64(pairs[g + 1], pairs[g + 3]);
        quads[g + 3] = _mm512_unpackhi_epi64(pairs[g + 1], pairs[g + 3]);
    }
    for (int c = 0; c < 4; c++) { /* word 4L+c of rows 0..15: lane L of quads[c], [4+c], ... */
        const __m512i low01 = _mm512_shuffle_i32x4(quads[c], quads[4 + c], 0x44);
        const __m512i high01 = _mm512_shuffle_i32x4(quads[c], quads[4 + c], 0xEE);
        const __m512i low23 = _mm512_shuffle_i32x4(quads[8 + c], quads[12 + c], 0x44);
        const __m512i high23 = _mm512_shuffle_i32x4(quads[8 + c], quads[12 + c], 0xEE);
        _mm512_storeu_si512(out + (0 + c) * 16, _mm512_shuffle_i32x4(low01, low23, 0x88));
        _mm512_storeu_si512(out + (4 + c) * 16, _mm512_shuffle_i32x4(low01, low23, 0xDD));
        _mm512_storeu_si512(out + (8 + c) * 16, _mm512_shuffle_i32x4(high01, high23, 0x88));
        _mm512_storeu_si512(out + (12 + c) * 16, _mm512_shuffle_i32x4(high01, high23, 0xDD));
    }
}

/* The keys and values of one head laid out for the dot products: keys transposed by bf16 pairs
 * in blocks of 16 keys, values interleaved by key pairs; zeros past the n-th key up to `padded`
 * keys (a multiple of KEY_ALIGN). Both layouts are also what an AMX tile of the second operand
 * holds: 16 rows of pairs, 16 keys (or 16 value columns) a row. */
TARGET static void lay_out(const uint16_t *k, const uint16_t *v, long stride, int n, int padded,
                           Scratch *m) {
    for (int b = 0; b < padded / 16; b++) {
        __m512i rows[16];
        for (int i = 0; i < 16; i++)
            rows[i] = b * 16 + i < n ? _mm512_loadu_si512(k + (long)(b * 16 + i) * stride)
                                     : _mm512_setzero_si512();
        transpose_words(rows, m->keys + b * PAIRS * 16);
    }
    /* _mm512_set_epi16 lists lanes from the highest: lane 2d holds a[d], lane 2d+1 b[d]. */
    const __m512i low = _mm512_set_epi16(47, 15, 46, 14, 45, 13, 44, 12, 43, 11, 42, 10, 41, 9,
                                         40, 8, 39, 7, 38, 6, 37, 5, 36, 4, 35, 3, 34, 2, 33, 1,
                                         32, 0);
    const __m512i high = _mm512_set_epi16(63, 31, 62, 30, 61, 29, 60, 28, 59, 27, 58, 26, 57, 25,
                                          56, 24, 55, 23, 54, 22, 53, 21, 52, 20, 51, 19, 50, 18,
                                          49, 17, 48, 16);
    for (int p = 0; p < padded / 2; p++) {
        const __m512i a = 2 * p < n ? _mm512_loadu_si512(v + (long)(2 * p) * stride)
                                    : _mm512_setzero_si512();
        const __m512i b = 2 * p + 1 < n ? _mm512_loadu_si512(v + (long)(2 * p + 1) * stride)
                                        : _mm512_setzero_si512();
        _mm512_storeu_si512(m->values + p * 32, _mm512_permutex2var_epi16(a, low, b));
        _mm512_storeu_si512(m->values + p * 32 + 16, _mm512_permutex2var_epi16(a, high, b));
    }
}

/* The query rows of the group after next (rows first + 2 * QUERIES on, below n; `row_bytes`
 * apart from q): each a cache line of its own, a token's q, k and v apart, which the hardware
 * did not fetch ahead (on Zen 5 12% of attend's time went to waiting for them). */
static inline void prefetch_queries(const void *q, long row_bytes, int first, int n) {
    for (int r = first + 2 * QUERIES; r < first + 3 * QUERIES && r < n; r++)
        _mm_prefetch((const char *)q + r * row_bytes, _MM_HINT_T0);
}

/* One head of one sequence of n tokens. q, k, v: the head's first row of each; rows `stride`
 * bf16 apart. out: the head's first output row; rows `out_stride` apart. */
TARGET static void attend(const uint16_t *q, const uint16_t *k, const uint16_t *v, long stride,
                          uint16_t *out, long out_stride, int n, float scale, Scratch *m) {
    const int blocks = (n + 15) / 16;
    const int padded = (n + KEY_ALIGN - 1) / KEY_ALIGN * KEY_ALIGN;
    const int key_pairs = (n + 1) / 2;
    lay_out(k, v, stride, n, padded, m);
    for (int first = 0; first < n; first += QUERIES) {
        const int rows = n - first < QUERIES ? n - first : QUERIES;
        prefetch_queries(q, stride * 2, first, n);
        uint32_t query[QUERIES][PAIRS];
        for (int r = 0; r < QUERIES; r++)
            for (int w = 0; w < PAIRS; w++)
                query[r][w] = r < rows ? word(q + (long)(first + r) * stride, w) : 0;
        /* Two blocks of keys at a time: 16 sums in flight, as the dot product's latency
         * wants (8 waited on it). A block past the n-th key holds zero keys (padded is a
         * multiple of 32): its scores are masked. */
        for (int b = 0; b < blocks; b += 2) {
            __m512 acc[2][QUERIES];
            for (int r = 0; r < QUERIES; r++) acc[0][r] = acc[1][r] = _mm512_setzero_ps();
            for (int w = 0; w < PAIRS; w++) {
                const __m512bh key0 = (__m512bh)_mm512_loadu_si512(m->keys + (b * PAIRS + w) * 16);
                const __m512bh key1 =
                    (__m512bh)_mm512_loadu_si512(m->keys + ((b + 1) * PAIRS + w) * 16);
                for (int r = 0; r < QUERIES; r++) {
                    const __m512bh qw = (__m512bh)_mm512_set1_epi32(query[r][w]);
                    acc[0][r] = _mm512_dpbf16_ps(acc[0][r], key0, qw);
                    acc[1][r] = _mm512_dpbf16_ps(acc[1][r], key1, qw);
                }
            }
            for (int r = 0; r < QUERIES; r++) {
                _mm512_storeu_ps(m->scores + r * padded + b * 16, acc[0][r]);
                _mm512_storeu_ps(m->scores + r * padded + b * 16 + 16, acc[1][r]);
            }
        }
        float inverse_sum[QUERIES];
        for (int r = 0; r < rows; r++)
            inverse_sum[r] = softmax_row(m->scores + r * padded, m->weights + r * (padded / 2), n,
                                         padded, scale);
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

/* fp32 attention (AVX-512F: no bf16 instruction), for fp32 batches run packed: the same pass
 * as attend, with FMAs for the dot products. 2^x to fp32's precision (exp2_nonpositive_fp32),
 * the weights kept in fp32; the keys transposed in blocks of 16 (transpose_words: a 32-bit
 * float is a word), the values copied row by row. */
/* For fp32 weights: degree 6 (least relative error, 9.8e-8 in fp32 arithmetic: PyTorch's exp is
 * within 1 ulp, 1.2e-7). */
static const float EXP2_FP32[] = {0.0001534581242594868f, 0.0013399930903688073f,
                                  0.009618489071726799f,  0.05550328642129898f,
                                  0.24022646248340607f,   0.6931471824645996f,
                                  1.0f};
F32_TARGET static inline __m512 exp2_nonpositive_fp32(__m512 x) { return exp2_by(x, EXP2_FP32, 6); }

/* softmax_row in fp32: weights exp(scale * (s - max)) as floats, zero from the n-th key to
 * `padded`; returns 1 / (their sum). */
F32_TARGET static float softmax_row_fp32(const float *scores, float *weights, int n, int padded,
                                         float scale) {
    const int full = n / 16;
    const __mmask16 tail = (__mmask16)((1u << (n - full * 16)) - 1);
    const Exponent x = row_exponent(scores, n, scale);
    __m512 sum = _mm512_setzero_ps();
    for (int b = 0; b < padded / 16; b++) {
        const __mmask16 real = b < full ? 0xFFFF : b == full ? tail : 0;
        const __m512 e = _mm512_maskz_mov_ps(
            real, exp2_nonpositive_fp32(exponent(scores + b * 16, &x)));
        sum = _mm512_add_ps(sum, e);
        _mm512_storeu_ps(weights + b * 16, e);
    }
    return 1.0f / _mm512_reduce_add_ps(sum);
}

/* Scratch of attend_fp32: keys [block of 16][dimension][16 keys], values [key][32]. */
F32_TARGET static void lay_out_fp32(const float *k, const float *v, long stride, int n, int padded,
                                    float *keys, float *values) {
    for (int b = 0; b < padded / 16; b++)
        for (int half = 0; half < 2; half++) {
            __m512i rows[16];
            for (int i = 0; i < 16; i++)
                rows[i] = b * 16 + i < n
                              ? _mm512_loadu_si512(k + (long)(b * 16 + i) * stride + 16 * half)
                              : _mm512_setzero_si512();
            transpose_words(rows, (uint32_t *)keys + (b * HEAD_DIM + 16 * half) * 16);
        }
    for (int j = 0; j < padded; j++)
        for (int half = 0; half < 2; half++)
            _mm512_storeu_ps(values + j * HEAD_DIM + 16 * half,
                             j < n ? _mm512_loadu_ps(v + (long)j * stride + 16 * half)
                                   : _mm512_setzero_ps());
}

/* attend in fp32: q, k, v, out as there, in floats. */
F32_TARGET static void attend_fp32(const float *q, const float *k, const float *v, long stride,
                                   float *out, long out_stride, int n, float scale, Scratch *m) {
    const int blocks = (n + 15) / 16;
    const int padded = (n + KEY_ALIGN - 1) / KEY_ALIGN * KEY_ALIGN;
    float *keys = (float *)m->keys, *values = (float *)m->values, *weights = (float *)m->weights;
    lay_out_fp32(k, v, stride, n, padded, keys, values);
    for (int first = 0; first < n; first += QUERIES) {
        const int rows = n - first < QUERIES ? n - first : QUERIES;
        prefetch_queries(q, stride * 4, first, n);
        float query[QUERIES][HEAD_DIM];
        for (int r = 0; r < QUERIES; r++)
            for (int half = 0; half < 2; half++)
                _mm512_storeu_ps(query[r] + 16 * half,
                                 r < rows ? _mm512_loadu_ps(q + (long)(first + r) * stride + 16 * half)
                                          : _mm512_setzero_ps());
        for (int b = 0; b < blocks; b += 2) { /* as attend: two blocks, 16 sums in flight */
            __m512 acc[2][QUERIES];
            for (int r = 0; r < QUERIES; r++) acc[0][r] = acc[1][r] = _mm512_setzero_ps();
            for (int d = 0; d < HEAD_DIM; d++) {
                const __m512 key0 = _mm512_loadu_ps(keys + (b * HEAD_DIM + d) * 16);
                const __m512 key1 = _mm512_loadu_ps(keys + ((b + 1) * HEAD_DIM + d) * 16);
                for (int r = 0; r < QUERIES; r++) {
                    const __m512 qd = _mm512_set1_ps(query[r][d]);
                    acc[0][r] = _mm512_fmadd_ps(key0, qd, acc[0][r]);
                    acc[1][r] = _mm512_fmadd_ps(key1, qd, acc[1][r]);
                }
            }
            for (int r = 0; r < QUERIES; r++) {
                _mm512_storeu_ps(m->scores + r * padded + b * 16, acc[0][r]);
                _mm512_storeu_ps(m->scores + r * padded + b * 16 + 16, acc[1][r]);
            }
        }
        float inverse_sum[QUERIES];
        for (int r = 0; r < rows; r++)
            inverse_sum[r] = softmax_row_fp32(m->scores + r * padded, weights + r * padded, n,
                                              padded, scale);
        __m512 o[QUERIES][2];
        for (int r = 0; r < QUERIES; r++) o[r][0] = o[r][1] = _mm512_setzero_ps();
        for (int j = 0; j < n; j++) {
            const __m512 v0 = _mm512_loadu_ps(values + j * HEAD_DIM);
            const __m512 v1 = _mm512_loadu_ps(values + j * HEAD_DIM + 16);
            for (int r = 0; r < QUERIES; r++) {
                const __m512 w = _mm512_set1_ps(weights[r * padded + j]);
                o[r][0] = _mm512_fmadd_ps(v0, w, o[r][0]);
                o[r][1] = _mm512_fmadd_ps(v1, w, o[r][1]);
            }
        }
        for (int r = 0; r < rows; r++) {
            const __m512 inv = _mm512_set1_ps(inverse_sum[r]);
            float *dst = out + (long)(first + r) * out_stride;
            _mm512_storeu_ps(dst, _mm512_mul_ps(o[r][0], inv));
            _mm512_storeu_ps(dst + 16, _mm512_mul_ps(o[r][1], inv));
        }
    }
}

/* fp32 attention on CPUs without AVX-512 (AVX2 and FMA: Zen 3, Haswell to Alder Lake): the
 * pass of attend_fp32 in vectors of 8. Sixteen registers, not 32: 6 queries a pass over the
 * keys (2 blocks of 8 keys x 6 queries = 12 sums in flight, as FMA's latency wants), the
 * weighted values in two halves of 16 columns (12 sums again). Keys laid out
 * [block of 8][dimension][8 keys], values [key][32]. The same softmax: 2^x by the degree-6
 * polynomial, 2^n put into the exponent's bits (n >= -126: a normal float). */
#define AVX2_TARGET __attribute__((target("avx2,fma")))
#define AVX2_QUERIES 6

AVX2_TARGET static inline __m256 exp2_nonpositive_avx2(__m256 x) {
    x = _mm256_max_ps(_mm256_set1_ps(-126.0f), x); /* NaN stays NaN: max returns x's NaN */
    const __m256 n = _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256 f = _mm256_sub_ps(x, n);
    __m256 p = _mm256_set1_ps(EXP2_FP32[0]);
    for (int i = 1; i <= 6; i++) p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(EXP2_FP32[i]));
    const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n),
                                                            _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

AVX2_TARGET static inline float sum_avx2(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

AVX2_TARGET static inline float max_avx2(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_max_ss(s, _mm_movehdup_ps(s)));
}

/* Lanes below `count` (0..8) set: the real keys of a block. */
AVX2_TARGET static inline __m256 first_lanes(int count) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(count), lane));
}

/* softmax_row_fp32 in vectors of 8: the row's maximum as row_exponent takes it (so rows of any
 * scores give what the AVX-512 pass gives, but for the order of the sum). */
AVX2_TARGET static float softmax_row_avx2(const float *scores, float *weights, int n, int padded,
                                          float scale) {
    const int full = n / 8;
    __m256 row_max = _mm256_set1_ps(-__builtin_inff());
    for (int b = 0; b < full; b++) row_max = _mm256_max_ps(row_max, _mm256_loadu_ps(scores + b * 8));
    if (n > full * 8)
        row_max = _mm256_max_ps(row_max, _mm256_blendv_ps(_mm256_set1_ps(-__builtin_inff()),
                                                          _mm256_loadu_ps(scores + full * 8),
                                                          first_lanes(n - full * 8)));
    const float base2 = scale * 1.44269504088896341f, top = max_avx2(row_max);
    const int exact = __builtin_fabsf(base2 * top) >= 4194304.0f; /* 2^22: see row_exponent */
    const __m256 x_scale = _mm256_set1_ps(base2), x_max = _mm256_set1_ps(top),
                 x_shift = _mm256_set1_ps(-base2 * top);
    __m256 sum = _mm256_setzero_ps();
    for (int b = 0; b < padded / 8; b++) {
        const __m256 s = _mm256_loadu_ps(scores + b * 8);
        const __m256 x = exact ? _mm256_mul_ps(_mm256_sub_ps(s, x_max), x_scale)
                               : _mm256_fmadd_ps(s, x_scale, x_shift);
        __m256 e = exp2_nonpositive_avx2(x);
        if (b >= full) e = _mm256_and_ps(e, first_lanes(b == full ? n - full * 8 : 0));
        sum = _mm256_add_ps(sum, e);
        _mm256_storeu_ps(weights + b * 8, e);
    }
    return 1.0f / sum_avx2(sum);
}

/* 8 rows of 8 floats transposed: out[c * 8 + i] = rows[i][c]. */
AVX2_TARGET static void transpose_8x8(const __m256 rows[8], float *out, long out_stride) {
    __m256 pairs[8], quads[8];
    for (int i = 0; i < 8; i += 2) { /* lane group L: columns 2L,2L+1 of rows i, i+1 */
        pairs[i] = _mm256_unpacklo_ps(rows[i], rows[i + 1]);
        pairs[i + 1] = _mm256_unpackhi_ps(rows[i], rows[i + 1]);
    }
    for (int g = 0; g < 8; g += 4) { /* quads[g + c]: column c (and c + 4) of rows g..g+3 */
        quads[g] = _mm256_shuffle_ps(pairs[g], pairs[g + 2], 0x44);
        quads[g + 1] = _mm256_shuffle_ps(pairs[g], pairs[g + 2], 0xEE);
        quads[g + 2] = _mm256_shuffle_ps(pairs[g + 1], pairs[g + 3], 0x44);
        quads[g + 3] = _mm256_shuffle_ps(pairs[g + 1], pairs[g + 3], 0xEE);
    }
    for (int c = 0; c < 4; c++) {
        _mm256_storeu_ps(out + c * out_stride, _mm256_permute2f128_ps(quads[c], quads[4 + c], 0x20));
        _mm256_storeu_ps(out + (c + 4) * out_stride,
                         _mm256_permute2f128_ps(quads[c], quads[4 + c], 0x31));
    }
}

AVX2_TARGET static void lay_out_avx2(const float *k, const float *v, long stride, int n,
                                     int padded, float *keys, float *values) {
    for (int b = 0; b < padded / 8; b++)
        for (int quarter = 0; quarter < 4; quarter++) {
            __m256 rows[8];
            for (int i = 0; i < 8; i++)
                rows[i] = b * 8 + i < n ? _mm256_loadu_ps(k + (long)(b * 8 + i) * stride + 8 * quarter)
                                        : _mm256_setzero_ps();
            transpose_8x8(rows, keys + (b * HEAD_DIM + 8 * quarter) * 8, 8);
        }
    for (int j = 0; j < padded; j++)
        for (int part = 0; part < 4; part++)
            _mm256_storeu_ps(values + j * HEAD_DIM + 8 * part,
                             j < n ? _mm256_loadu_ps(v + (long)j * stride + 8 * part)
                                   : _mm256_setzero_ps());
}

/* attend_fp32 with AVX2 and FMA: q, k, v, out as there. */
AVX2_TARGET static void attend_fp32_avx2(const float *q, const float *k, const float *v,
                                         long stride, float *out, long out_stride, int n,
                                         float scale, Scratch *m) {
    const int blocks = (n + 7) / 8;
    const int padded = (n + KEY_ALIGN - 1) / KEY_ALIGN * KEY_ALIGN;
    float *keys = (float *)m->keys, *values = (float *)m->values, *weights = (float *)m->weights;
    lay_out_avx2(k, v, stride, n, padded, keys, values);
    for (int first = 0; first < n; first += AVX2_QUERIES) {
        const int rows = n - first < AVX2_QUERIES ? n - first : AVX2_QUERIES;
        float query[AVX2_QUERIES][HEAD_DIM];
        for (int r = 0; r < AVX2_QUERIES; r++)
            for (int part = 0; part < 4; part++)
                _mm256_storeu_ps(query[r] + 8 * part,
                                 r < rows ? _mm256_loadu_ps(q + (long)(first + r) * stride + 8 * part)
                                          : _mm256_setzero_ps());
        for (int b = 0; b < blocks; b += 2) { /* a block past the n-th key: zero keys, masked */
            __m256 acc[2][AVX2_QUERIES];
            for (int r = 0; r < AVX2_QUERIES; r++) acc[0][r] = acc[1][r] = _mm256_setzero_ps();
            for (int d = 0; d < HEAD_DIM; d++) {
                const __m256 key0 = _mm256_loadu_ps(keys + (b * HEAD_DIM + d) * 8);
                const __m256 key1 = _mm256_loadu_ps(keys + ((b + 1) * HEAD_DIM + d) * 8);
                for (int r = 0; r < AVX2_QUERIES; r++) {
                    const __m256 qd = _mm256_broadcast_ss(&query[r][d]);
                    acc[0][r] = _mm256_fmadd_ps(key0, qd, acc[0][r]);
                    acc[1][r] = _mm256_fmadd_ps(key1, qd, acc[1][r]);
                }
            }
            for (int r = 0; r < AVX2_QUERIES; r++) {
                _mm256_storeu_ps(m->scores + r * padded + b * 8, acc[0][r]);
                _mm256_storeu_ps(m->scores + r * padded + b * 8 + 8, acc[1][r]);
            }
        }
        float inverse_sum[AVX2_QUERIES];
        for (int r = 0; r < rows; r++)
            inverse_sum[r] = softmax_row_avx2(m->scores + r * padded, weights + r * padded, n,
                                              padded, scale);
        for (int half = 0; half < 2; half++) {
            __m256 o[AVX2_QUERIES][2];
            for (int r = 0; r < AVX2_QUERIES; r++) o[r][0] = o[r][1] = _mm256_setzero_ps();
            for (int j = 0; j < n; j++) {
                const __m256 v0 = _mm256_loadu_ps(values + j * HEAD_DIM + 16 * half);
                const __m256 v1 = _mm256_loadu_ps(values + j * HEAD_DIM + 16 * half + 8);
                for (int r = 0; r < AVX2_QUERIES; r++) {
                    const __m256 w = _mm256_broadcast_ss(weights + r * padded + j);
                    o[r][0] = _mm256_fmadd_ps(v0, w, o[r][0]);
                    o[r][1] = _mm256_fmadd_ps(v1, w, o[r][1]);
                }
            }
            for (int r = 0; r < rows; r++) {
                const __m256 inv = _mm256_set1_ps(inverse_sum[r]);
                float *dst = out + (long)(first + r) * out_stride + 16 * half;
                _mm256_storeu_ps(dst, _mm256_mul_ps(o[r][0], inv));
                _mm256_storeu_ps(dst + 8, _mm256_mul_ps(o[r][1], inv));
            }
        }
    }
}

/* AMX needs GCC 11 or clang 12 (the tile intrinsics) and Linux (enable_amx); older compilers
 * and other systems build the rest. */
#if defined(__linux__) && (defined(__clang__) ? __clang_major__ >= 12 : __GNUC__ >= 11)
#define HAVE_AMX 1
/* The tile instructions are asm statements that do not tell the compiler which memory they
 * read or write: this orders plain loads and stores around them. */
#define MEMORY_BARRIER() __asm__ volatile("" ::: "memory")
/* AMX: the tile configuration (64 bytes, palette 1) and the tiles used. */
typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} TileConfig;
/* Tile numbers: literals, as the tile instructions name their registers. */
#define T_SCORES 0
#define T_QUERIES 1
#define T_KEYS 2
#define T_OUT_LOW 3
#define T_OUT_HIGH 4
#define T_WEIGHTS 5
#define T_VALUES_LOW 6
#define T_VALUES_HIGH 7
#define AMX_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,amx-tile,amx-bf16")))

/* Every tile is 16 rows of 64 bytes: queries, weights (32 bf16 a row), keys and values (16
 * pairs a row), scores and outputs (16 fp32 a row). */
AMX_TARGET static void configure_tiles(void) {
    TileConfig config;
    memset(&config, 0, sizeof config);
    config.palette = 1;
    for (int t = T_SCORES; t <= T_VALUES_HIGH; t++) {
        config.rows[t] = TILE_ROWS;
        config.colsb[t] = 64;
    }
    __asm__ volatile("ldtilecfg %0" ::"m"(config)); /* the whole struct read, not 8 bytes */
}

AMX_TARGET static void release_tiles(void) { _tile_release(); }

/* attend on AMX tiles: the caller has configured them (configure_tiles). Scores of 16 queries
 * against 16 keys a tile product (the 32 bf16 of a query row against 16 key rows of pairs),
 * the weighted values of 16 queries against 32 keys two products (16 value columns each). */
AMX_TARGET static void attend_amx(const uint16_t *q, const uint16_t *k, const uint16_t *v,
                                  long stride, uint16_t *out, long out_stride, int n, float scale,
                                  Scratch *m) {
    const int blocks = (n + 15) / 16;
    const int padded = (n + KEY_ALIGN - 1) / KEY_ALIGN * KEY_ALIGN;
    lay_out(k, v, stride, n, padded, m);
    MEMORY_BARRIER();
    uint16_t last[TILE_ROWS * HEAD_DIM]; /* the last queries, zero-padded to 16 rows */
    float result[TILE_ROWS * HEAD_DIM];
    for (int first = 0; first < n; first += TILE_ROWS) {
        const int rows = n - first < TILE_ROWS ? n - first : TILE_ROWS;
        if (rows == TILE_ROWS) {
            _tile_loadd(T_QUERIES, q + (long)first * stride, stride * 2);
        } else { /* past the sequence's end lie another's rows, or the end of the tensor */
            memset(last, 0, sizeof last);
            for (int r = 0; r < rows; r++)
                memcpy(last + r * HEAD_DIM, q + (long)(first + r) * stride, HEAD_DIM * 2);
            MEMORY_BARRIER();
            _tile_loadd(T_QUERIES, last, HEAD_DIM * 2);
        }
        /* Two blocks of keys at a time, on two pairs of tiles: one product does not wait for
         * the other's store. (A block past the n-th key holds zero keys: its scores are
         * masked.) */
        for (int b = 0; b < blocks; b += 2) {
            _tile_zero(T_SCORES);
            _tile_zero(T_OUT_LOW);
            _tile_loadd(T_KEYS, m->keys + b * PAIRS * 16, 64);
            _tile_loadd(T_WEIGHTS, m->keys + (b + 1) * PAIRS * 16, 64);
            _tile_dpbf16ps(T_SCORES, T_QUERIES, T_KEYS);
            _tile_dpbf16ps(T_OUT_LOW, T_QUERIES, T_WEIGHTS);
            _tile_stored(T_SCORES, m->scores + b * 16, padded * 4);
            _tile_stored(T_OUT_LOW, m->scores + (b + 1) * 16, padded * 4);
        }
        MEMORY_BARRIER();
        float inverse_sum[TILE_ROWS];
        for (int r = 0; r < rows; r++)
            inverse_sum[r] = softmax_row(m->scores + r * padded, m->weights + r * (padded / 2), n,
                                         padded, scale);
        MEMORY_BARRIER();
        _tile_zero(T_OUT_LOW);
        _tile_zero(T_OUT_HIGH);
        for (int b = 0; b < padded / KEY_ALIGN; b++) {
            _tile_loadd(T_WEIGHTS, m->weights + b * 16, padded * 2);
            _tile_loadd(T_VALUES_LOW, m->values + b * 16 * 32, 128);
            _tile_loadd(T_VALUES_HIGH, m->values + b * 16 * 32 + 16, 128);
            _tile_dpbf16ps(T_OUT_LOW, T_WEIGHTS, T_VALUES_LOW);
            _tile_dpbf16ps(T_OUT_HIGH, T_WEIGHTS, T_VALUES_HIGH);
        }
        _tile_stored(T_OUT_LOW, result, HEAD_DIM * 4);
        _tile_stored(T_OUT_HIGH, result + 16, HEAD_DIM * 4);
        MEMORY_BARRIER();
        for (int r = 0; r < rows; r++) {
            const __m512 inv = _mm512_set1_ps(inverse_sum[r]);
            uint16_t *dst = out + (long)(first + r) * out_stride;
            for (int half = 0; half < 2; half++)
                _mm256_storeu_si256((__m256i *)(dst + 16 * half),
                                    (__m256i)_mm512_cvtneps_pbh(_mm512_mul_ps(
                                        _mm512_loadu_ps(result + r * HEAD_DIM + 16 * half), inv)));
        }
    }
}

#else
#define HAVE_AMX 0
#define AMX_TARGET TARGET
#endif

/* The caller's part of the (sequence, head) items. No target of its own: it runs on any x86-64
 * CPU, the AVX2 one among them, and calls the kernel chosen. */
static int run(const void *qkv, void *out, const int64_t *offsets, int sequences, int heads,
               float scale, int kernel, int part, int parts) {
    int longest = 0;
    for (int i = 0; i < sequences; i++) {
        const int n = (int)(offsets[i + 1] - offsets[i]);
        if (n > longest) longest = n;
    }
    if (longest < 1) return 0; /* no tokens (rows of padding only): nothing to do */
    const size_t padded = (size_t)(longest + KEY_ALIGN - 1) / KEY_ALIGN * KEY_ALIGN;
    Scratch m; /* sized for either kernel: fp32 keys and values take twice bf16's */
    m.keys = malloc(padded * HEAD_DIM * 4);
    m.values = malloc(padded * HEAD_DIM * 4);
    /* zeroed: a short row's softmax reads a block no score was written to (masked out) */
    m.scores = calloc(TILE_ROWS * padded, 4);
    m.weights = calloc(TILE_ROWS * padded, 4);
    const int ok = m.keys && m.values && m.scores && m.weights;
    const long stride = 3L * heads * HEAD_DIM;
#if HAVE_AMX
    if (ok && kernel == KERNEL_AMX) configure_tiles(); /* per thread: each has its own tile state */
#endif
    long item = 0;
    for (int i = 0; ok && i < sequences; i++) {
        const long start = offsets[i];
        const int n = (int)(offsets[i + 1] - start);
        for (int h = 0; h < heads; h++, item++) {
            if (item % parts != part) continue;
            const long at = start * stride + (long)h * HEAD_DIM, out_at = start * heads * HEAD_DIM + (long)h * HEAD_DIM;
            const long key_at = (long)heads * HEAD_DIM, value_at = 2L * heads * HEAD_DIM;
            const float *fq = (const float *)qkv + at;
            const uint16_t *bq = (const uint16_t *)qkv + at;
            switch (kernel) {
            case KERNEL_FP32_AVX2:
                attend_fp32_avx2(fq, fq + key_at, fq + value_at, stride, (float *)out + out_at,
                                 key_at, n, scale, &m);
                break;
            case KERNEL_FP32:
                attend_fp32(fq, fq + key_at, fq + value_at, stride, (float *)out + out_at, key_at,
                            n, scale, &m);
                break;
#if HAVE_AMX
            case KERNEL_AMX:
                attend_amx(bq, bq + key_at, bq + value_at, stride, (uint16_t *)out + out_at,
                           key_at, n, scale, &m);
                break;
#endif
            default:
                attend(bq, bq + key_at, bq + value_at, stride, (uint16_t *)out + out_at, key_at, n,
                       scale, &m);
            }
        }
    }
#if HAVE_AMX
    if (ok && kernel == KERNEL_AMX) release_tiles();
#endif
    free(m.keys);
    free(m.values);
    free(m.scores);
    free(m.weights);
    return ok ? 0 : -1;
}

/* bf16 -> fp32: the 16 bits become the high half of the float. */
TARGET static inline __m512 widen(const uint16_t *x) {
    const __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)x));
    return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
}

/* LayerNorm of bf16 rows first..last-1, `width` wide (a multiple of 16, at most NORM_WIDTH),
 * into bf16, in fp32 as PyTorch's kernel computes it: the mean, the mean square of the
 * deviations (the row stays in registers between the passes), then (x - mean) / sqrt(variance +
 * eps) * gamma + beta, rounded to nearest even (gamma and beta bf16, as the model holds them). */
#define NORM_WIDTH 1024
TARGET static void layer_norm_rows(const uint16_t *x, uint16_t *y, const uint16_t *gamma,
                                   const uint16_t *beta, long first, long last, int width,
                                   float eps) {
    const int vectors = width / 16;
    for (long i = first; i < last; i++) {
        const uint16_t *row = x + i * width;
        __m512 v[NORM_WIDTH / 16];
        __m512 sum = _mm512_setzero_ps();
        for (int j = 0; j < vectors; j++) {
            v[j] = widen(row + 16 * j);
            sum = _mm512_add_ps(sum, v[j]);
        }
        const __m512 mean = _mm512_set1_ps(_mm512_reduce_add_ps(sum) / (float)width);
        __m512 squares = _mm512_setzero_ps();
        for (int j = 0; j < vectors; j++) {
            v[j] = _mm512_sub_ps(v[j], mean);
            squares = _mm512_fmadd_ps(v[j], v[j], squares);
        }
        const float variance = _mm512_reduce_add_ps(squares) / (float)width;
        const float root = _mm_cvtss_f32(_mm_sqrt_ss(_mm_set_ss(variance + eps)));
        const __m512 rstd = _mm512_set1_ps(1.0f / root);
        uint16_t *out = y + i * width;
        for (int j = 0; j < vectors; j++) {
            const __m512 scaled = _mm512_mul_ps(v[j], rstd);
            const __m512 r = _mm512_fmadd_ps(scaled, widen(gamma + 16 * j), widen(beta + 16 * j));
            _mm256_storeu_si256((__m256i *)(out + 16 * j), (__m256i)_mm512_cvtneps_pbh(r));
        }
    }
}
#else
#define HAVE_KERNEL 0
#define HAVE_AMX 0
#endif

/* The OpenMP runtime torch runs its threads on (found by the caller in the process: the same
 * library, so the same team of threads). Another team would compete with torch's for the cores
 * while torch's threads spin-wait after their last parallel region. */
typedef void (*parallel_fn)(void (*)(void *), void *, unsigned, unsigned);
typedef int (*thread_query_fn)(void);
static parallel_fn team_parallel;
static thread_query_fn team_thread_num, team_num_threads;

typedef struct {
    const void *qkv;
    void *out;
    const int64_t *offsets;
    int sequences, heads;
    float scale;
    int kernel, failed;
} Job;

static void job_part(void *data) {
    Job *job = data;
#if HAVE_KERNEL
    if (run(job->qkv, job->out, job->offsets, job->sequences, job->heads, job->scale, job->kernel,
            team_thread_num(), team_num_threads()) != 0)
        __atomic_store_n(&job->failed, 1, __ATOMIC_RELAXED);
#else
    (void)job;
#endif
}

PyDoc_STRVAR(use_openmp_doc,
             "use_openmp(parallel, thread_num, num_threads)\n\n"
             "Addresses of GOMP_parallel, omp_get_thread_num and omp_get_num_threads in the\n"
             "OpenMP runtime torch uses: attention and layer_norm (threads > 1) then run on its team.");

static PyObject *use_openmp(PyObject *self, PyObject *args) {
    unsigned long long parallel, thread_num, num_threads;
    if (!PyArg_ParseTuple(args, "KKK", &parallel, &thread_num, &num_threads)) return NULL;
    team_parallel = (parallel_fn)(uintptr_t)parallel;
    team_thread_num = (thread_query_fn)(uintptr_t)thread_num;
    team_num_threads = (thread_query_fn)(uintptr_t)num_threads;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(attention_doc,
             "attention(qkv, out, offsets, sequences, heads, scale, threads, kernel)\n\n"
             "Addresses of contiguous tensors: qkv (N, 3, heads, 32), out (N, heads, 32), bf16\n"
             "(KERNEL_BF16, KERNEL_AMX) or fp32 (KERNEL_FP32: AVX-512F, KERNEL_FP32_AVX2),\n"
             "offsets (sequences + 1,) int64 token offsets. Without the GIL, on `threads` threads\n"
             "of the OpenMP team set by use_openmp (one thread without it); KERNEL_AMX after\n"
             "enable_amx. The caller checks the CPU (AVX2 and FMA; AVX-512F; AVX512-BF16; AMX)\n"
             "and the shapes: nothing is checked here.");

static PyObject *attention(PyObject *self, PyObject *args) {
    unsigned long long qkv, out, offsets;
    int sequences, heads, threads, kernel;
    float scale;
    if (!PyArg_ParseTuple(args, "KKKiifii", &qkv, &out, &offsets, &sequences, &heads, &scale,
                          &threads, &kernel))
        return NULL;
    if (threads < 1 || sequences < 0 || heads < 1 || kernel < KERNEL_BF16 ||
        kernel > KERNEL_FP32_AVX2 || (kernel == KERNEL_AMX && !HAVE_AMX)) {
        PyErr_SetString(PyExc_ValueError,
                        "attention: need threads >= 1, heads >= 1 and a kernel built here");
        return NULL;
    }
#if HAVE_KERNEL
    Job job = {(const void *)(uintptr_t)qkv, (void *)(uintptr_t)out,
               (const int64_t *)(uintptr_t)offsets, sequences, heads, scale, kernel, 0};
    Py_BEGIN_ALLOW_THREADS
    if (team_parallel != NULL && threads > 1)
        team_parallel(job_part, &job, (unsigned)threads, 0); /* parts: the team's actual size */
    else
        job.failed = run(job.qkv, job.out, job.offsets, sequences, heads, scale, kernel, 0, 1) != 0;
    Py_END_ALLOW_THREADS
    if (job.failed) return PyErr_NoMemory();
    Py_RETURN_NONE;
#else
    PyErr_SetString(PyExc_RuntimeError, "attention: built without the kernels");
    return NULL;
#endif
}

typedef struct {
    const uint16_t *x, *gamma, *beta;
    uint16_t *y;
    long rows;
    int width;
    float eps;
} NormJob;

static void norm_part(void *data) {
#if HAVE_KERNEL
    const NormJob *job = data;
    const long part = team_thread_num(), parts = team_num_threads();
    layer_norm_rows(job->x, job->y, job->gamma, job->beta, job->rows * part / parts,
                    job->rows * (part + 1) / parts, job->width, job->eps);
#else
    (void)data;
#endif
}

PyDoc_STRVAR(layer_norm_doc,
             "layer_norm(x, y, gamma, beta, rows, width, eps, threads)\n\n"
             "Addresses of contiguous bf16 tensors: x and y (rows, width), gamma and beta\n"
             "(width,). y = LayerNorm(x), computed in fp32; width a multiple of 16, at most\n"
             "1024. Without the GIL, on `threads` threads of the OpenMP team set by use_openmp\n"
             "(one thread without it). Nothing is checked here.");

static PyObject *layer_norm(PyObject *self, PyObject *args) {
    unsigned long long x, y, gamma, beta;
    long rows;
    int width, threads;
    float eps;
    if (!PyArg_ParseTuple(args, "KKKKlifi", &x, &y, &gamma, &beta, &rows, &width, &eps, &threads))
        return NULL;
    if (rows < 0 || width < 16 || width > 1024 || width % 16 || threads < 1) {
        PyErr_SetString(PyExc_ValueError,
                        "layer_norm: need rows >= 0, width a multiple of 16 up to 1024, threads >= 1");
        return NULL;
    }
#if HAVE_KERNEL
    NormJob job = {(const uint16_t *)(uintptr_t)x, (const uint16_t *)(uintptr_t)gamma,
                   (const uint16_t *)(uintptr_t)beta, (uint16_t *)(uintptr_t)y, rows, width, eps};
    Py_BEGIN_ALLOW_THREADS
    if (team_parallel != NULL && threads > 1)
        team_parallel(norm_part, &job, (unsigned)threads, 0);
    else
        layer_norm_rows(job.x, job.y, job.gamma, job.beta, 0, rows, width, eps);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
#else
    PyErr_SetString(PyExc_RuntimeError, "layer_norm: built without the AVX512-BF16 kernel");
    return NULL;
#endif
}

PyDoc_STRVAR(enable_amx_doc,
             "enable_amx() -> bool\n\n"
             "Ask Linux for the AMX tile state in this process (arch_prctl ARCH_REQ_XCOMP_PERM,\n"
             "which oneDNN asks for too); whether attention(amx=True) may run. The caller checks\n"
             "that the CPU has AMX-BF16.");

static PyObject *enable_amx(PyObject *self, PyObject *args) {
#if HAVE_AMX && defined(__linux__) && defined(SYS_arch_prctl)
    const long ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18;
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0) Py_RETURN_TRUE;
#endif
    Py_RETURN_FALSE;
}

static PyMethodDef methods[] = {
    {"enable_amx", enable_amx, METH_NOARGS, enable_amx_doc},
    {"attention", attention, METH_VARARGS, attention_doc},
    {"layer_norm", layer_norm, METH_VARARGS, layer_norm_doc},
    {"use_openmp", use_openmp, METH_VARARGS, use_openmp_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_kernels",
    "The encoder's CPU kernels: attention of packed sequences (head size 32; bf16 with\n"
    "AVX512-BF16, fp32 with AVX-512F or AVX2) and bf16 LayerNorm.",
    -1, methods,
};

PyMODINIT_FUNC PyInit__kernels(void) {
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && (PyModule_AddIntConstant(m, "HAVE_KERNEL", HAVE_KERNEL) < 0 ||
                      PyModule_AddIntConstant(m, "HAVE_AMX", HAVE_AMX) < 0 ||
                      PyModule_AddIntConstant(m, "KERNEL_BF16", KERNEL_BF16) < 0 ||
                      PyModule_AddIntConstant(m, "KERNEL_AMX", KERNEL_AMX) < 0 ||
                      PyModule_AddIntConstant(m, "KERNEL_FP32", KERNEL_FP32) < 0 ||
                      PyModule_AddIntConstant(m, "KERNEL_FP32_AVX2", KERNEL_FP32_AVX2) < 0)) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
