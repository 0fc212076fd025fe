"""The LSTM layer's gate arithmetic per time step as numba loops: one pass over the
(H, B) elements where the NumPy path (`rnn.py: LSTMLayer`) makes 6 (forward) and 20
(backward) ufunc calls.  `LSTMLayer` loads this module only where numba is installed
(`pip install diffprog[fast]`, see `fast.py`); the tanh of the gate pre-activations and of
the cell stay NumPy's (vectorised; numba's would be scalar library calls).

Arrays are feature-major as in `LSTMLayer`: acts (T, 4H, B) with the gate blocks
(i, f, g, o) as rows, states (H, B); the constants are of the arrays' dtype, so that
float32 stays float32 (a float64 literal would widen every product): the callers pass them.
"""
import numba


@numba.njit(cache=True, error_model="numpy")
def add_preactivations(acts, t, hg, bias):
    """acts[t] += hg + bias (a (4H,) vector, or None)."""
    R, B = hg.shape
    for r in range(R):
        b_r = acts.dtype.type(0) if bias is None else bias[r]
        for b in range(B):
            acts[t, r, b] += hg[r, b] + b_r


@numba.njit(cache=True, error_model="numpy")
def lstm_cell(acts, t, c, c2, half):
    """acts[t] holds tanh(scale * pre-activations): turns its i, f, o rows into the
    sigmoids (tanh(x / 2) / 2 + 1 / 2) and writes c2 = f * c + i * g; half is 0.5."""
    H, B = c.shape
    for j in range(H):
        for b in range(B):
            i = acts[t, j, b] * half + half
            f = acts[t, H + j, b] * half + half
            acts[t, j, b] = i
            acts[t, H + j, b] = f
            acts[t, 3 * H + j, b] = acts[t, 3 * H + j, b] * half + half
            c2[j, b] = f * c[j, b] + i * acts[t, 2 * H + j, b]


@numba.njit(cache=True, error_model="numpy")
def lstm_cell_back(acts, tcs, t, c, g, dh, dc, da, one, g_t):
    """One step of BPTT: dh += g[t] (the output's gradient (T, B, H), any strides, first
    transposed into the scratch g_t (H, B)); writes the gradients of the pre-activations
    into da[:, t] ((4H, T, B)) and dc <- (dc + dh o (1 - tanh(c')^2)) f.  c is the cell
    state before step t, one is 1."""
    H, B = dc.shape
    for b in range(B):
        for j in range(H):
            g_t[j, b] = g[t, b, j]
    for j in range(H):
        for b in range(B):
            i, f = acts[t, j, b], acts[t, H + j, b]
            gg, o = acts[t, 2 * H + j, b], acts[t, 3 * H + j, b]
            tc = tcs[t, j, b]
            d_h = dh[j, b] + g_t[j, b]
            d_c = dc[j, b] + d_h * o * (one - tc * tc)
            da[j, t, b] = d_c * gg * i * (one - i)
            da[H + j, t, b] = d_c * c[j, b] * f * (one - f)
            da[2 * H + j, t, b] = d_c * i * (one - gg * gg)
            da[3 * H + j, t, b] = d_h * tc * o * (one - o)
            dc[j, b] = d_c * f

