/* The gemm entry point shared by the repacked AVX2 kernels (internal to src/quant).
 *
 * RP_TILED_GEMM(name, tile, TILE, block_t, nb) defines
 *     static void name(n, w, y, y_stride, T, out, out_stride)
 * over an always-inline tile(NT, nb, group, y, y_stride, out, out_stride) that handles NT
 * tokens (a constant after inlining, 1..TILE): whole tiles of TILE tokens, then one tile of
 * the remaining 1..TILE-1 (at most 5). nb is an expression of n: the tile's block count.
 * Which tile a token falls in changes only the weight loads it shares, never its own
 * operations (repack.h), so this split is free to choose. */
#ifndef BB_QUANT_REPACK_TILES_H
#define BB_QUANT_REPACK_TILES_H

#define RP_TILE_CALL(tile, NT, nb, g, yc, y_stride, out, out_stride, t)                            \
    tile(NT, nb, g, yc + (size_t)(t) * (y_stride), y_stride, out + (size_t)(t) * (out_stride),     \
         out_stride)

#define RP_TILED_GEMM(name, tile, TILE, block_t, nb_of_n)                                          \
    _Static_assert((TILE) >= 1 && (TILE) <= 6, "remainders of up to 5 tokens");                    \
    static AVX2 void name(int64_t n, const void *w, const void *y, size_t y_stride, int T,         \
                          float *out, size_t out_stride) {                                         \
        const block_t *g = w;                                                                      \
        const char *yc = y;                                                                        \
        const int64_t nb = (nb_of_n);                                                              \
        int t = 0;                                                                                 \
        for (; t + (TILE) <= T; t += (TILE))                                                       \
            RP_TILE_CALL(tile, (TILE), nb, g, yc, y_stride, out, out_stride, t);                   \
        const int rest = T - t;                                                                    \
        if ((TILE) > 5 && rest == 5)                                                               \
            RP_TILE_CALL(tile, 5, nb, g, yc, y_stride, out, out_stride, t);                        \
        if ((TILE) > 4 && rest == 4)                                                               \
            RP_TILE_CALL(tile, 4, nb, g, yc, y_stride, out, out_stride, t);                        \
        if ((TILE) > 3 && rest == 3)                                                               \
            RP_TILE_CALL(tile, 3, nb, g, yc, y_stride, out, out_stride, t);                        \
        if ((TILE) > 2 && rest == 2)                                                               \
            RP_TILE_CALL(tile, 2, nb, g, yc, y_stride, out, out_stride, t);                        \
        if ((TILE) > 1 && rest == 1)                                                               \
            RP_TILE_CALL(tile, 1, nb, g, yc, y_stride, out, out_stride, t);                        \
    }

#endif
