// MoE combine over a token range: out[t] = Σ_j w[t,j]·Y[pos[t,j]] (+ g_t·S[t]),
// in ggml's order (build_moe_ffn: each expert's output scaled by its weight,
// then added in slot order j = 0..k−1, the shared expert last): every product
// and every sum one rounded f32 operation, no fused multiply-add, so both
// builds give the same bits and any token split does too.

/**
 * Tokens [t0, t1): Y f32 [rows, D] expert outputs, pos i32 [T, k] the row of
 * Y for slot (t, j) (−1: no row, a dropped token), w f32 [T, k]; shared f32
 * [T, D] or 0, sgate f32 [T] (the shared expert's per-token gate) or 0: 1.
 */
export function moe_combine(
  Y: usize,
  pos: usize,
  w: usize,
  shared: usize,
  sgate: usize,
  out: usize,
  D: i32,
  k: i32,
  t0: i32,
  t1: i32,
): void {
  const rowBytes = (<usize>D) << 2;
  for (let t = t0; t < t1; t++) {
    const o = out + (<usize>t) * rowBytes;
    const slots = (<usize>t) * (<usize>k << 2);
    const s = shared ? shared + (<usize>t) * rowBytes : 0;
    const g = sgate ? load<f32>(sgate + ((<usize>t) << 2)) : <f32>1;
    let d = 0;
    for (; d + 4 <= D; d += 4) {
      const off = (<usize>d) << 2;
      let acc = f32x4.splat(0);
      for (let j = 0; j < k; j++) {
        const p = load<i32>(pos + slots + ((<usize>j) << 2));
        if (p < 0) continue;
        const y = v128.load(Y + (<usize>p) * rowBytes + off);
        acc = f32x4.add(acc, f32x4.mul(y, f32x4.splat(load<f32>(w + slots + ((<usize>j) << 2)))));
      }
      if (s) {
        let v = v128.load(s + off);
        if (sgate) v = f32x4.mul(v, f32x4.splat(g));
        acc = f32x4.add(acc, v);
      }
      v128.store(o + off, acc);
    }
    for (; d < D; d++) {
      const off = (<usize>d) << 2;
      let acc: f32 = 0;
      for (let j = 0; j < k; j++) {
        const p = load<i32>(pos + slots + ((<usize>j) << 2));
        if (p < 0) continue;
        acc += load<f32>(Y + (<usize>p) * rowBytes + off) * load<f32>(w + slots + ((<usize>j) << 2));
      }
      if (s) acc += sgate ? load<f32>(s + off) * g : load<f32>(s + off);
      store<f32>(o + off, acc);
    }
  }
}
