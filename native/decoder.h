// A decoder session for batched sampling (src/model/native-decoder.ts drives it): a policy's weights copied
// once into native memory (packed for the products below), a KV cache per batch row, and a whole forward
// pass per call, prompt pass or one-token step, for every row at once, returning next-token logits to JS
// (sampling stays in JS, so every decoder shares one random stream per row).
//
// Why: a decode step of a small model is a few hundred tiny ops in TF.js, and each op's fixed cost, not
// arithmetic, sets the speed (stories260K: ~100 tokens/s one sequence at a time). Here a step is one call:
// per layer nine phases of tasks over the batch's token rows (norms, products by weight block, RoPE and cache
// writes, attention per row and head), the products blocked so each weight vector loaded feeds eight token rows
// from registers. The pool's threads work through the phases together (class Phases): one wake-up per step,
// and each weight block is read by one thread, so a decode step reads the weights once.
//
// Layout. A batch of token rows (the prompt pass: every prompt token of every row; a step: one token per live
// row) goes through the layers together; each token row knows its batch row and position. Rows are not padded:
// row b's cache holds only its own tokens, and position = tokens before it (what a left-padded batch with
// Hugging Face's position ids computes). Cache: per row, layer and kv head, keys and values feature-major
// [d][cap] so the scores of 16 positions are one vector. Linear weights [out][in] (HF) are packed into
// blocks of NB outputs, [in][NB] each, zero-padded.
//
// Families: only Llama's layer exists (RMSNorm, RoPE rotate-half as HF, GQA, SwiGLU, optional q/k/v biases,
// tied or untied head). The family-specific parts are the Layer* functions and the embedding; a GPT-2 layer
// (LayerNorm with bias, learned positions added at the embedding, no RoPE, GELU-tanh MLP with biases) adds
// its own Layer function and weight list beside them and a case in Session::Forward.
//
// Included by rlhf_ops.cc inside its anonymous namespace: uses its Pool, vf/Load/Store/Sum/Lanes,
// ExpNonPositive/ExpShifted/RowMax, Sigmoid and RmsNormRows.
//
// Does NOT: sample, stop rows, or touch TensorFlow (plain memory in and out through Node-API).

constexpr int NB = 2 * W;  // outputs per packed weight block (two vectors)
// Below this many multiply-adds a forward runs on the calling thread: waking the pool costs more.
constexpr double kParallelMacs = 1 << 20;

// y = x·Wᵀ (+ b) for W [N][K], stored as ceil(N/NB) blocks of [K][NB].
struct Packed {
  int N = 0, K = 0, blocks = 0;
  std::vector<float> w, bias;

  // parts: row-major [rows][K] matrices stacked along N (e.g. q, k, v as one product); biases likewise (or none).
  void Pack(const std::vector<std::pair<const float*, int>>& parts, int k, const std::vector<const float*>& biases) {
    K = k;
    N = 0;
    for (const auto& p : parts) N += p.second;
    blocks = (N + NB - 1) / NB;
    w.assign(static_cast<size_t>(blocks) * K * NB, 0.0f);
    bias.clear();
    if (!biases.empty()) bias.assign(N, 0.0f);
    int n0 = 0;
    for (size_t i = 0; i < parts.size(); i++) {
      const float* src = parts[i].first;
      for (int r = 0; r < parts[i].second; r++) {
        const int n = n0 + r, blk = n / NB, lane = n % NB;
        float* dst = w.data() + static_cast<size_t>(blk) * K * NB + lane;
        for (int c = 0; c < K; c++) dst[static_cast<size_t>(c) * NB] = src[static_cast<size_t>(r) * K + c];
        if (!biases.empty()) bias[n] = biases[i][r];
      }
      n0 += parts[i].second;
    }
  }
};

// RR token rows × one block of NB outputs: y[r][0..valid) (+)= Σ_k x[r][k]·Wb[k][·] (+ bias).
template <int RR>
RLHF_CLONES void Tile(const float* x, int ldx, const float* wb, int K, int valid, const float* bias, float* y, int ldy, bool accumulate) {
  vf a0[RR] = {}, a1[RR] = {};
  for (int k = 0; k < K; k++) {
    const vf w0 = Load(wb + static_cast<size_t>(k) * NB), w1 = Load(wb + static_cast<size_t>(k) * NB + W);
    for (int r = 0; r < RR; r++) {
      const float xr = x[static_cast<size_t>(r) * ldx + k];
      a0[r] += xr * w0;
      a1[r] += xr * w1;
    }
  }
  for (int r = 0; r < RR; r++) {
    float t[NB];
    Store(t, a0[r]);
    Store(t + W, a1[r]);
    float* yr = y + static_cast<size_t>(r) * ldy;
    for (int j = 0; j < valid; j++) {
      const float v = bias ? t[j] + bias[j] : t[j];
      yr[j] = accumulate ? yr[j] + v : v;
    }
  }
}

// One task of Y[M][N] (+)= X[M][K]·Wᵀ: weight block jb for rows [m0, m1). Rows go 8 at a time (16 accumulators:
// each weight vector loaded feeds 8 multiply-adds), then 4, then the rest.
void GemmTask(const float* X, int ldx, const Packed& P, int jb, int m0, int m1, float* Y, int ldy, bool accumulate) {
  const float* wb = P.w.data() + static_cast<size_t>(jb) * P.K * NB;
  const int n0 = jb * NB, valid = std::min(NB, P.N - n0);
  const float* bias = P.bias.empty() ? nullptr : P.bias.data() + n0;
  const auto x = [&](int m) { return X + static_cast<size_t>(m) * ldx; };
  const auto y = [&](int m) { return Y + static_cast<size_t>(m) * ldy + n0; };
  int m = m0;
  for (; m + 8 <= m1; m += 8) Tile<8>(x(m), ldx, wb, P.K, valid, bias, y(m), ldy, accumulate);
  if (m + 4 <= m1) {
    Tile<4>(x(m), ldx, wb, P.K, valid, bias, y(m), ldy, accumulate);
    m += 4;
  }
  switch (m1 - m) {
    case 3: Tile<3>(x(m), ldx, wb, P.K, valid, bias, y(m), ldy, accumulate); break;
    case 2: Tile<2>(x(m), ldx, wb, P.K, valid, bias, y(m), ldy, accumulate); break;
    case 1: Tile<1>(x(m), ldx, wb, P.K, valid, bias, y(m), ldy, accumulate); break;
    default: break;
  }
}

constexpr int kGemmRows = 64;  // rows per product task (a prompt pass has hundreds)

// A forward pass as phases of independent tasks, run by every thread of the pool together: each thread claims
// the tasks of the current phase, and moves on once all of them are done. A thread that joins late (a worker
// woken late, or the caller running the pool's second task itself) starts at the first phase and finds the
// finished ones empty, so nothing waits for a thread to arrive, only for claimed tasks to finish.
class Phases {
 public:
  void Add(int tasks, std::function<void(int)> fn) {
    if (tasks > 0) list_.push_back({tasks, std::move(fn)});
  }
  // macs: the work, to decide whether waking the pool pays.
  void Run(double macs) {
    const int n = static_cast<int>(list_.size());
    std::unique_ptr<std::atomic<int>[]> claimed(new std::atomic<int>[n]), done(new std::atomic<int>[n]);
    for (int i = 0; i < n; i++) claimed[i] = done[i] = 0;
    const auto member = [&](int) {
      for (int i = 0; i < n; i++) {
        const Phase& p = list_[i];
        int finished = 0;
        for (int t; (t = claimed[i].fetch_add(1)) < p.tasks; finished++) p.fn(t);
        if (finished) done[i].fetch_add(finished);
        while (done[i].load(std::memory_order_acquire) < p.tasks) {
#if defined(__x86_64__)
          __builtin_ia32_pause();
#endif
          if (done[i].load(std::memory_order_acquire) < p.tasks) std::this_thread::yield();
        }
      }
    };
    const int threads = pool().threads();
    if (threads == 1 || macs < kParallelMacs) member(0);
    else pool().Run(threads, member, /*linger=*/true);  // the next step follows shortly
    list_.clear();
  }

 private:
  struct Phase {
    int tasks;
    std::function<void(int)> fn;
  };
  std::vector<Phase> list_;
};

// Adds y (+)= x·Wᵀ over rows [0, M) as one phase: tasks are weight blocks (× 64-row chunks), so each weight is
// read by one thread.
void AddGemm(Phases& ph, const float* X, int M, int ldx, const Packed& P, float* Y, int ldy, bool accumulate) {
  const int chunks = (M + kGemmRows - 1) / kGemmRows;
  ph.Add(chunks * P.blocks, [=, &P](int t) {
    const int m0 = (t / P.blocks) * kGemmRows;
    GemmTask(X, ldx, P, t % P.blocks, m0, std::min(M, m0 + kGemmRows), Y, ldy, accumulate);
  });
}

// softmax(scale·q·K[:, 0..n)) · V[:, 0..n) for one head: K, V feature-major [d][cap]; s is cap floats of scratch.
RLHF_CLONES void AttendOne(const float* q, const float* kt, const float* vt, int cap, int n, int d, float scale, float* s, float* out) {
  const int chunks = (n + W - 1) / W;
  // Scores row by row of K (each a contiguous run of positions, so the loads stream), accumulated in s (L1).
  for (int jc = 0; jc < chunks; jc++) Store(s + jc * W, vf{});
  for (int c = 0; c < d; c++) {
    const float qc = scale * q[c];
    const float* kr = kt + static_cast<size_t>(c) * cap;
    for (int jc = 0; jc < chunks; jc++) Store(s + jc * W, Load(s + jc * W) + qc * Load(kr + jc * W));
  }
  const float m = RowMax(s, n);
  const float inv = 1.0f / ExpShifted(s, n, chunks * W, m);  // zero weight past n
  const vi lanes = Lanes();
  for (int c = 0; c < d; c++) {
    const float* vr = vt + static_cast<size_t>(c) * cap;
    vf acc = {};
    for (int jc = 0; jc < chunks; jc++) {
      const vf prod = Load(s + jc * W) * Load(vr + jc * W);
      acc += (lanes + jc * W) < n ? prod : vf{};  // cache slots past n may hold another batch's values
    }
    out[c] = Sum(acc) * inv;
  }
}

struct DecoderSpec {
  int family, layers, dim, heads, kv_heads, head_dim, inter, vocab, max_pos;
  bool tied, qkv_bias;
  float eps, rope_theta;
  static constexpr int kLlama = 0;
};

struct LlamaLayerWeights {
  std::vector<float> attn_norm, mlp_norm;
  Packed qkv, o, gate_up, down;
};

class Session {
 public:
  explicit Session(const DecoderSpec& s) : spec_(s) {
    // RoPE tables as src/model/rope.ts makes them: angles in double, stored as float.
    const int half = s.head_dim / 2;
    cos_.resize(static_cast<size_t>(s.max_pos) * half);
    sin_.resize(cos_.size());
    for (int i = 0; i < half; i++) {
      const double inv_freq = 1.0 / std::pow(static_cast<double>(s.rope_theta), (2.0 * i) / s.head_dim);
      for (int p = 0; p < s.max_pos; p++) {
        cos_[static_cast<size_t>(p) * half + i] = static_cast<float>(std::cos(p * inv_freq));
        sin_[static_cast<size_t>(p) * half + i] = static_cast<float>(std::sin(p * inv_freq));
      }
    }
  }

  // Weight sizes in the order SetWeights expects them (src/model/native-decoder.ts lists the HF names).
  std::vector<size_t> WeightSizes() const {
    const DecoderSpec& s = spec_;
    const size_t D = s.dim, V = s.vocab, F = s.inter, qd = static_cast<size_t>(s.heads) * s.head_dim, kvd = static_cast<size_t>(s.kv_heads) * s.head_dim;
    std::vector<size_t> out = {V * D, D};
    if (!s.tied) out.push_back(V * D);
    for (int l = 0; l < s.layers; l++) {
      for (size_t x : {D, qd * D, kvd * D, kvd * D}) out.push_back(x);
      if (s.qkv_bias)
        for (size_t x : {qd, kvd, kvd}) out.push_back(x);
      for (size_t x : {D * qd, D, F * D, F * D, D * F}) out.push_back(x);
    }
    return out;
  }

  // w: pointers in WeightSizes() order (sizes checked by the caller). Copies and packs everything.
  void SetWeights(const std::vector<const float*>& w) {
    const DecoderSpec& s = spec_;
    const int D = s.dim, F = s.inter, qd = s.heads * s.head_dim, kvd = s.kv_heads * s.head_dim;
    size_t i = 0;
    embed_.assign(w[i], w[i] + static_cast<size_t>(s.vocab) * D);
    i++;
    final_norm_.assign(w[i], w[i] + D);
    i++;
    head_.Pack({{w[s.tied ? 0 : i], s.vocab}}, D, {});
    if (!s.tied) i++;
    layers_.resize(s.layers);
    for (auto& L : layers_) {
      L.attn_norm.assign(w[i], w[i] + D);
      const float *q = w[i + 1], *k = w[i + 2], *v = w[i + 3];
      i += 4;
      std::vector<const float*> biases;
      if (s.qkv_bias) {
        biases = {w[i], w[i + 1], w[i + 2]};
        i += 3;
      }
      L.qkv.Pack({{q, qd}, {k, kvd}, {v, kvd}}, D, biases);
      L.o.Pack({{w[i], D}}, qd, {});
      L.mlp_norm.assign(w[i + 1], w[i + 1] + D);
      L.gate_up.Pack({{w[i + 2], F}, {w[i + 3], F}}, D, {});
      L.down.Pack({{w[i + 4], D}}, F, {});
      i += 5;
    }
  }

  // Starts B rows from their prompts (ids concatenated, lengths[b] > 0), reserving capacity[b] positions per row.
  // Writes each row's next-token logits to out[b·V ..].
  void Prefill(const int32_t* ids, const int32_t* lengths, const int32_t* capacity, int B, float* out) {
    rows_ = B;
    cap_ = 0;
    for (int b = 0; b < B; b++) cap_ = std::max(cap_, capacity[b]);
    cap_ = (cap_ + W - 1) / W * W;
    const size_t need = static_cast<size_t>(B) * spec_.layers * spec_.kv_heads * spec_.head_dim * cap_;
    if (k_cache_.size() < need) {
      k_cache_.assign(need, 0.0f);
      v_cache_.assign(need, 0.0f);
    }
    len_.assign(B, 0);
    tokens_.clear();
    size_t at = 0;
    std::vector<int> last(B);
    for (int b = 0; b < B; b++) {
      for (int t = 0; t < lengths[b]; t++) tokens_.push_back({b, t, ids[at++]});
      last[b] = static_cast<int>(tokens_.size()) - 1;
    }
    Forward(last, out);
    for (int b = 0; b < B; b++) len_[b] = lengths[b];
  }

  // Appends tokens[b] to every row with active[b]; writes their next-token logits to out[b·V ..].
  void Step(const int32_t* tokens, const uint8_t* active, float* out) {
    tokens_.clear();
    std::vector<int> last(rows_, -1);
    for (int b = 0; b < rows_; b++) {
      if (!active[b]) continue;
      if (len_[b] >= cap_ || len_[b] >= spec_.max_pos) throw std::runtime_error("row " + std::to_string(b) + " is full (" + std::to_string(len_[b]) + " positions)");
      last[b] = static_cast<int>(tokens_.size());
      tokens_.push_back({b, len_[b], tokens[b]});
    }
    Forward(last, out);
    for (int b = 0; b < rows_; b++) len_[b] += active[b] ? 1 : 0;
  }

  int rows() const { return rows_; }
  const DecoderSpec& spec() const { return spec_; }

 private:
  struct Token {
    int row, pos, id;
  };

  float* KCache(int b, int l, int kh) { return k_cache_.data() + CacheIndex(b, l, kh); }
  float* VCache(int b, int l, int kh) { return v_cache_.data() + CacheIndex(b, l, kh); }
  size_t CacheIndex(int b, int l, int kh) const {
    return ((static_cast<size_t>(b) * spec_.layers + l) * spec_.kv_heads + kh) * spec_.head_dim * cap_;
  }

  // Every token row through every layer; then the head on the rows in `last` (batch row b -> token row, -1 none).
  void Forward(const std::vector<int>& last, float* out) {
    // A small forward runs on the calling thread alone (Node's, outside any TensorFlow scope): the same float mode
    // as the pool's threads, so a result does not depend on which path or thread computed it.
    const ScopedFlushDenormals flush;
    const DecoderSpec& s = spec_;
    const int M = static_cast<int>(tokens_.size()), D = s.dim;
    if (M == 0) return;
    for (const Token& t : tokens_) {
      if (t.id < 0 || t.id >= s.vocab) throw std::runtime_error("token id " + std::to_string(t.id) + " is outside the vocabulary [0, " + std::to_string(s.vocab) + ")");
    }
    const int qkvN = (s.heads + 2 * s.kv_heads) * s.head_dim;
    for (auto* b : {&x_, &xn_}) b->resize(static_cast<size_t>(M) * D);
    qkv_.resize(static_cast<size_t>(M) * qkvN);
    att_.resize(static_cast<size_t>(M) * s.heads * s.head_dim);
    gu_.resize(static_cast<size_t>(M) * 2 * s.inter);
    hid_.resize(static_cast<size_t>(M) * s.inter);
    r_.resize(M);
    for (int m = 0; m < M; m++) std::memcpy(x_.data() + static_cast<size_t>(m) * D, embed_.data() + static_cast<size_t>(tokens_[m].id) * D, sizeof(float) * D);
    // Every layer's work as phases of tasks shared by the pool's threads (see Phases), then the head.
    Phases ph;
    for (int l = 0; l < s.layers; l++) AddLayer(ph, l, M);
    std::vector<int> rows;
    for (int b = 0; b < static_cast<int>(last.size()); b++)
      if (last[b] >= 0) rows.push_back(b);
    const int R = static_cast<int>(rows.size());
    sel_.resize(static_cast<size_t>(R) * D);
    logits_.resize(static_cast<size_t>(R) * s.vocab);
    ph.Add(R, [&](int i) {  // final norm of the rows whose logits are wanted
      float* y = sel_.data() + static_cast<size_t>(i) * D;
      std::memcpy(y, x_.data() + static_cast<size_t>(last[rows[i]]) * D, sizeof(float) * D);
      RmsNormRows(y, final_norm_.data(), s.eps, D, 0, 1, y, r_.data() + last[rows[i]]);
    });
    AddGemm(ph, sel_.data(), R, D, head_, logits_.data(), s.vocab, false);
    ph.Run(static_cast<double>(M) * s.layers * LayerMacs() + static_cast<double>(R) * s.vocab * D);
    for (int i = 0; i < R; i++) std::memcpy(out + static_cast<size_t>(rows[i]) * s.vocab, logits_.data() + static_cast<size_t>(i) * s.vocab, sizeof(float) * s.vocab);
  }

  // Multiply-adds of the layer products per token row.
  double LayerMacs() const {
    const DecoderSpec& s = spec_;
    return static_cast<double>(s.dim) * ((s.heads + 2 * s.kv_heads) * s.head_dim + s.heads * s.head_dim + 3.0 * s.inter);
  }

  // One decoder layer of the session's family as phases over all M token rows. A GPT-2 layer (LayerNorm with
  // bias, no RoPE, GELU-tanh MLP, Conv1D weights transposed at Pack time) goes here as its own function; its
  // learned positions are added to x_ beside the embedding in Forward.
  void AddLayer(Phases& ph, int l, int M) {
    switch (spec_.family) {
      case DecoderSpec::kLlama: return AddLlamaLayer(ph, l, M);
      default: throw std::runtime_error("model family " + std::to_string(spec_.family) + " has no native layer");
    }
  }

  // x = x + attn(rmsnorm(x)); x = x + mlp(rmsnorm(x)) for layer l, as 9 phases.
  void AddLlamaLayer(Phases& ph, int l, int M) {
    const DecoderSpec& s = spec_;
    LlamaLayerWeights& L = layers_[l];
    const int D = s.dim, d = s.head_dim, H = s.heads, kvH = s.kv_heads, F = s.inter;
    const int qkvN = (H + 2 * kvH) * d;
    ph.Add(M, [this, &L](int m) { Norm(x_.data(), L.attn_norm.data(), m, m + 1, xn_.data()); });
    AddGemm(ph, xn_.data(), M, D, L.qkv, qkv_.data(), qkvN, false);
    ph.Add(M, [this, l](int m) { RopeAndCache(l, m); });  // all keys are cached before any query reads them
    ph.Add(M * H, [this, l](int i) { Attend(l, i / spec_.heads, i % spec_.heads); });
    AddGemm(ph, att_.data(), M, H * d, L.o, x_.data(), D, true);  // x += o(att)
    ph.Add(M, [this, &L](int m) { Norm(x_.data(), L.mlp_norm.data(), m, m + 1, xn_.data()); });
    AddGemm(ph, xn_.data(), M, D, L.gate_up, gu_.data(), 2 * F, false);  // gate and up as one product
    ph.Add(M, [this, F](int m) {
      const float* g = gu_.data() + static_cast<size_t>(m) * 2 * F;
      SiluMulRange(g, g + F, hid_.data() + static_cast<size_t>(m) * F, 0, F);
    });
    AddGemm(ph, hid_.data(), M, F, L.down, x_.data(), D, true);  // x += down(silu(g)·u)
  }

  // RoPE on token row m's q and k heads, then its k and v into the cache of its batch row.
  void RopeAndCache(int l, int m) {
    const DecoderSpec& s = spec_;
    const int d = s.head_dim, H = s.heads, kvH = s.kv_heads, qkvN = (H + 2 * kvH) * d;
    const Token& t = tokens_[m];
    float* q = qkv_.data() + static_cast<size_t>(m) * qkvN;
    for (int h = 0; h < H + kvH; h++) RotateHalf(q + h * d, t.pos);
    for (int kh = 0; kh < kvH; kh++) {
      const float *k = q + (H + kh) * d, *v = q + (H + kvH + kh) * d;
      float *kt = KCache(t.row, l, kh), *vt = VCache(t.row, l, kh);
      for (int c = 0; c < d; c++) {
        kt[static_cast<size_t>(c) * cap_ + t.pos] = k[c];
        vt[static_cast<size_t>(c) * cap_ + t.pos] = v[c];
      }
    }
  }

  // Head h of token row m: its query against keys 0..pos of its own batch row.
  void Attend(int l, int m, int h) {
    const DecoderSpec& s = spec_;
    const int d = s.head_dim, H = s.heads, kvH = s.kv_heads, qkvN = (H + 2 * kvH) * d, g = H / kvH;
    const Token& t = tokens_[m];
    thread_local std::vector<float> scores;
    if (scores.size() < static_cast<size_t>(cap_)) scores.resize(cap_);
    AttendOne(qkv_.data() + static_cast<size_t>(m) * qkvN + h * d, KCache(t.row, l, h / g), VCache(t.row, l, h / g), cap_, t.pos + 1, d,
              1.0f / std::sqrt(static_cast<float>(d)), scores.data(), att_.data() + (static_cast<size_t>(m) * H + h) * d);
  }

  // RMSNorm of rows [m0, m1) of D (in place allowed).
  void Norm(const float* x, const float* w, int m0, int m1, float* y) {
    RmsNormRows(x, w, spec_.eps, spec_.dim, m0, m1, y, r_.data());
  }

  // HF rotate-half RoPE of one head vector at position pos, in place.
  void RotateHalf(float* x, int pos) const {
    const int half = spec_.head_dim / 2;
    const float *c = cos_.data() + static_cast<size_t>(pos) * half, *sn = sin_.data() + static_cast<size_t>(pos) * half;
    for (int i = 0; i < half; i++) {
      const float a = x[i], b = x[i + half];
      x[i] = a * c[i] - b * sn[i];
      x[i + half] = b * c[i] + a * sn[i];
    }
  }

  DecoderSpec spec_;
  std::vector<float> cos_, sin_, embed_, final_norm_;
  Packed head_;
  std::vector<LlamaLayerWeights> layers_;
  std::vector<float> k_cache_, v_cache_;
  int rows_ = 0, cap_ = 0;
  std::vector<int> len_;
  std::vector<Token> tokens_;
  std::vector<float> x_, xn_, qkv_, att_, gu_, hid_, sel_, logits_, r_;
};

// ---------------------------------------------------------------------------------------------
// Node-API: decoderCreate(spec Int32Array, floats Float32Array, weights Float32Array[]) -> handle;
// decoderSetWeights(handle, weights[]); decoderPrefill(handle, ids, lengths, capacity, out);
// decoderStep(handle, tokens Int32Array, active Uint8Array, out); decoderFree(handle).
// Errors are thrown as JS Errors with one line naming what was wrong.

struct SessionBox {
  Session* s = nullptr;
};

void FinalizeSession(napi_env, void* data, void*) {
  auto* box = static_cast<SessionBox*>(data);
  delete box->s;
  delete box;
}

struct JsError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <typename T>
T* TypedArray(napi_env env, napi_value v, napi_typedarray_type want, size_t* length, const char* what) {
  bool is = false;
  napi_is_typedarray(env, v, &is);
  napi_typedarray_type type;
  void* data = nullptr;
  if (!is || napi_get_typedarray_info(env, v, &type, length, &data, nullptr, nullptr) != napi_ok || type != want) {
    throw JsError(std::string(what) + " must be a " +
                  (want == napi_float32_array ? "Float32Array" : want == napi_int32_array ? "Int32Array" : "Uint8Array"));
  }
  return static_cast<T*>(data);
}

std::vector<napi_value> Args(napi_env env, napi_callback_info info, size_t n) {
  std::vector<napi_value> argv(n);
  size_t argc = n;
  napi_get_cb_info(env, info, &argc, argv.data(), nullptr, nullptr);
  if (argc < n) throw JsError("expected " + std::to_string(n) + " arguments, got " + std::to_string(argc));
  return argv;
}

Session* SessionOf(napi_env env, napi_value v) {
  void* data = nullptr;
  if (napi_get_value_external(env, v, &data) != napi_ok || !data) throw JsError("not a decoder session handle");
  Session* s = static_cast<SessionBox*>(data)->s;
  if (!s) throw JsError("this decoder session was freed");
  return s;
}

void LoadWeights(napi_env env, Session* s, napi_value list) {
  const std::vector<size_t> sizes = s->WeightSizes();
  uint32_t n = 0;
  bool is = false;
  napi_is_array(env, list, &is);
  if (!is || napi_get_array_length(env, list, &n) != napi_ok || n != sizes.size()) {
    throw JsError("expected an array of " + std::to_string(sizes.size()) + " weight arrays, got " + std::to_string(n));
  }
  std::vector<const float*> ptrs(n);
  for (uint32_t i = 0; i < n; i++) {
    napi_value el;
    napi_get_element(env, list, i, &el);
    size_t len = 0;
    ptrs[i] = TypedArray<float>(env, el, napi_float32_array, &len, ("weight " + std::to_string(i)).c_str());
    if (len != sizes[i]) throw JsError("weight " + std::to_string(i) + " has " + std::to_string(len) + " values; expected " + std::to_string(sizes[i]));
  }
  s->SetWeights(ptrs);
}

// Runs fn, turning C++ exceptions into a thrown JS Error; returns fn's value or undefined.
napi_value Guard(napi_env env, const std::function<napi_value()>& fn) {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    napi_throw_error(env, nullptr, "rlhf decoder: out of memory");
  } catch (const std::exception& e) {
    napi_throw_error(env, nullptr, (std::string("rlhf decoder: ") + e.what()).c_str());
  }
  return nullptr;
}

napi_value Undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

napi_value DecoderCreate(napi_env env, napi_callback_info info) {
  return Guard(env, [&]() -> napi_value {
    const auto argv = Args(env, info, 3);
    size_t ni = 0, nf = 0;
    const int32_t* iv = TypedArray<int32_t>(env, argv[0], napi_int32_array, &ni, "spec");
    const float* fv = TypedArray<float>(env, argv[1], napi_float32_array, &nf, "floats");
    if (ni != 11 || nf != 2) throw JsError("spec must hold 11 integers and floats 2 numbers");
    DecoderSpec s{iv[0], iv[1], iv[2], iv[3], iv[4], iv[5], iv[6], iv[7], iv[8], iv[9] != 0, iv[10] != 0, fv[0], fv[1]};
    if (s.family != DecoderSpec::kLlama) throw JsError("model family " + std::to_string(s.family) + " is not implemented (0 = llama)");
    if (s.layers < 1 || s.dim < 1 || s.heads < 1 || s.kv_heads < 1 || s.heads % s.kv_heads || s.head_dim < 2 || s.head_dim % 2 || s.inter < 1 ||
        s.vocab < 1 || s.max_pos < 1) {
      throw JsError("spec has an impossible shape");
    }
    auto* box = new SessionBox{new Session(s)};
    try {
      LoadWeights(env, box->s, argv[2]);
    } catch (...) {
      delete box->s;
      delete box;
      throw;
    }
    napi_value handle;
    napi_create_external(env, box, FinalizeSession, nullptr, &handle);
    return handle;
  });
}

napi_value DecoderSetWeights(napi_env env, napi_callback_info info) {
  return Guard(env, [&]() -> napi_value {
    const auto argv = Args(env, info, 2);
    LoadWeights(env, SessionOf(env, argv[0]), argv[1]);
    return Undefined(env);
  });
}

napi_value DecoderPrefill(napi_env env, napi_callback_info info) {
  return Guard(env, [&]() -> napi_value {
    const auto argv = Args(env, info, 5);
    Session* s = SessionOf(env, argv[0]);
    size_t n_ids = 0, B = 0, nc = 0, n_out = 0;
    const int32_t* ids = TypedArray<int32_t>(env, argv[1], napi_int32_array, &n_ids, "ids");
    const int32_t* lengths = TypedArray<int32_t>(env, argv[2], napi_int32_array, &B, "lengths");
    const int32_t* capacity = TypedArray<int32_t>(env, argv[3], napi_int32_array, &nc, "capacity");
    float* out = TypedArray<float>(env, argv[4], napi_float32_array, &n_out, "out");
    size_t total = 0;
    for (size_t b = 0; b < B; b++) {
      if (lengths[b] < 1 || lengths[b] > s->spec().max_pos || capacity[b] < lengths[b] || capacity[b] > s->spec().max_pos) {
        throw JsError("row " + std::to_string(b) + ": length " + std::to_string(lengths[b]) + ", capacity " + std::to_string(capacity[b]) +
                      "; expected 1 <= length <= capacity <= max positions " + std::to_string(s->spec().max_pos));
      }
      total += lengths[b];
    }
    if (B == 0 || nc != B || total != n_ids || n_out != B * s->spec().vocab) {
      throw JsError("prefill: " + std::to_string(n_ids) + " ids, " + std::to_string(B) + " lengths, " + std::to_string(nc) + " capacities, " +
                    std::to_string(n_out) + " outputs do not fit together");
    }
    s->Prefill(ids, lengths, capacity, static_cast<int>(B), out);
    return Undefined(env);
  });
}

napi_value DecoderStep(napi_env env, napi_callback_info info) {
  return Guard(env, [&]() -> napi_value {
    const auto argv = Args(env, info, 4);
    Session* s = SessionOf(env, argv[0]);
    size_t nt = 0, na = 0, n_out = 0;
    const int32_t* tokens = TypedArray<int32_t>(env, argv[1], napi_int32_array, &nt, "tokens");
    const uint8_t* active = TypedArray<uint8_t>(env, argv[2], napi_uint8_array, &na, "active");
    float* out = TypedArray<float>(env, argv[3], napi_float32_array, &n_out, "out");
    if (s->rows() == 0) throw JsError("step before prefill");
    const size_t B = static_cast<size_t>(s->rows());
    if (nt != B || na != B || n_out != B * s->spec().vocab) throw JsError("step: expected " + std::to_string(B) + " tokens, flags and rows of logits");
    s->Step(tokens, active, out);
    return Undefined(env);
  });
}

napi_value DecoderFree(napi_env env, napi_callback_info info) {
  return Guard(env, [&]() -> napi_value {
    const auto argv = Args(env, info, 1);
    void* data = nullptr;
    if (napi_get_value_external(env, argv[0], &data) != napi_ok || !data) throw JsError("not a decoder session handle");
    auto* box = static_cast<SessionBox*>(data);
    delete box->s;  // the box itself goes with the handle's finalizer
    box->s = nullptr;
    return Undefined(env);
  });
}

void RegisterDecoder(napi_env env, napi_value exports) {
  const std::pair<const char*, napi_callback> fns[] = {
      {"decoderCreate", DecoderCreate}, {"decoderSetWeights", DecoderSetWeights}, {"decoderPrefill", DecoderPrefill},
      {"decoderStep", DecoderStep},     {"decoderFree", DecoderFree},
  };
  for (const auto& f : fns) {
    napi_value fn;
    napi_create_function(env, f.first, NAPI_AUTO_LENGTH, f.second, nullptr, &fn);
    napi_set_named_property(env, exports, f.first, fn);
  }
}
