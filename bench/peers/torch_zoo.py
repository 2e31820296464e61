"""PyTorch peer of `tide bench train`: the zoo models of bench/train.ts (BENCH_MODELS), built as
lib/onnx/models builds them, trained with the same optimizer on the same kind of random batch.

Usage: python3 bench/peers/torch_zoo.py [--models a,b] [--batch-sizes 64,256] [--seconds S] [--threads T] [--profile N]
Prints one JSON line per (model, batch size): samples/s over the timed steps and the parameter count.
With --profile N: instead, torch.profiler's CPU time by op over N steps, per step, for each model and batch size
(the counterpart of bench/profile-step.ts).
With --serve (one model and batch size): trains segments on demand, as `tide bench peer` (bench/peer.ts) runs it,
taking turns with Tideline's trainer.

What matches lib/onnx: layer order, widths and activations; initial scales (weights U(±sqrt(6/fan_in)),
biases 0, BatchNorm 1/0, tables U(±sqrt(1/vocab))); the loss sum(w·l)/max(sum(w), 1e-12); Adam (lr 1e-3,
betas 0.9/0.999, eps 1e-8, no weight decay, torch's defaults otherwise); tables that Tideline holds in the
training worker (over 1M values) get sparse gradients and SparseAdam, the same lazy row-wise Adam.
"""
import argparse
import json
import math
import sys
import time

try:
    import torch
    from torch import nn
    import torch.nn.functional as F
except ImportError:
    sys.stderr.write('torch is not installed for this python3: pip3 install torch (see bench/README.md, `tide bench peer`)\n')
    sys.exit(3)

# As lib/onnx/models/dlrm.ts LAZY_TABLE_MIN_FLOATS: a larger table is updated row-sparsely (lazily), smaller ones densely.
LAZY_TABLE_MIN_FLOATS = 1_000_000
# Raw categorical ids spread over this many values, as bench/train.ts randomBatch draws them.
RAW_ID_RANGE = 10_000_000
LR, BETAS, EPS = 1e-3, (0.9, 0.999), 1e-8

# bench/train.ts BENCH_MODELS: spec, float features, categorical ids per sample.
ZOO = {
    'logisticRegression': ({'architecture': 'logisticRegression', 'numClasses': 10}, 784, 0),
    'mlp': ({'architecture': 'mlp', 'hidden': [128], 'numClasses': 10}, 784, 0),
    'cnn': ({'architecture': 'cnn', 'numClasses': 10, 'inputShape': [3, 32, 32], 'filters': [32, 32]}, 3072, 0),
    'resnet': ({'architecture': 'resnet', 'numClasses': 10, 'inputShape': [3, 32, 32], 'widths': [16, 32, 64], 'blocksPerStage': 1}, 3072, 0),
    'dlrm': ({'architecture': 'dlrm', 'vocabSize': 4096, 'embeddingDim': 16, 'bottom': [64, 16], 'top': [64]}, 13, 26),
    'textClassifier': ({'architecture': 'textClassifier', 'numClasses': 4, 'vocabSize': 32768, 'embeddingDim': 32, 'hidden': []}, 0, 64),
    'dlrm-host-100k': ({'architecture': 'dlrm', 'vocabSize': 100_000, 'embeddingDim': 16, 'bottom': [64, 16], 'top': [64]}, 13, 26),
}


def kaiming_uniform(weight, fan_in):
    """lib/onnx/params.ts 'kaiming-uniform': U(±sqrt(6/fanIn))."""
    bound = math.sqrt(6 / fan_in)
    nn.init.uniform_(weight, -bound, bound)


def linear(inp, out):
    layer = nn.Linear(inp, out)
    kaiming_uniform(layer.weight, inp)
    nn.init.zeros_(layer.bias)
    return layer


def conv(inp, out, kernel, stride=1, bias=True):
    layer = nn.Conv2d(inp, out, kernel, stride=stride, padding=(kernel - 1) // 2, bias=bias)
    kaiming_uniform(layer.weight, inp * kernel * kernel)
    if bias:
        nn.init.zeros_(layer.bias)
    return layer


def table(layer, vocab):
    """layers/embedding.ts tableSpec: U(±sqrt(1/vocab)), as the DLRM reference."""
    kaiming_uniform(layer.weight, 6 * vocab)
    return layer


def mlp(widths, inp):
    """Linear → ReLU per width (dropout 0 is the identity, as layers/dropout.ts)."""
    layers = []
    for width in widths:
        layers += [linear(inp, width), nn.ReLU()]
        inp = width
    return nn.Sequential(*layers), inp


class Cnn(nn.Module):
    """models/cnn.ts: per block conv 3×3 (padding 1) → max pool 2 → ReLU; global average pool; fc."""

    def __init__(self, channels, filters, classes):
        super().__init__()
        blocks = []
        for out in filters:
            blocks += [conv(channels, out, 3), nn.MaxPool2d(2), nn.ReLU()]
            channels = out
        self.blocks = nn.Sequential(*blocks)
        self.fc = linear(channels, classes)

    def forward(self, x):
        return self.fc(self.blocks(x).mean(dim=(2, 3)))


class BasicBlock(nn.Module):
    """models/resnet.ts basicBlock: conv-BN-ReLU-conv-BN plus the skip (1×1 conv + BN when the shape changes), ReLU."""

    def __init__(self, inp, out, stride):
        super().__init__()
        self.conv1, self.bn1 = conv(inp, out, 3, stride, bias=False), nn.BatchNorm2d(out)
        self.conv2, self.bn2 = conv(out, out, 3, 1, bias=False), nn.BatchNorm2d(out)
        self.downsample = None if stride == 1 and inp == out else nn.Sequential(conv(inp, out, 1, stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        skip = x if self.downsample is None else self.downsample(x)
        return F.relu(self.bn2(self.conv2(h)) + skip)


class ResNet(nn.Module):
    """models/resnet.ts: stem conv 3×3 stride 1 - BN - ReLU, one stage per width (stride 2 after the first), pool, fc."""

    def __init__(self, channels, widths, blocks_per_stage, classes):
        super().__init__()
        self.conv1, self.bn1 = conv(channels, widths[0], 3, 1, bias=False), nn.BatchNorm2d(widths[0])
        blocks, inp = [], widths[0]
        for stage, width in enumerate(widths):
            for b in range(blocks_per_stage):
                blocks.append(BasicBlock(inp, width, 2 if stage > 0 and b == 0 else 1))
                inp = width
        self.layers = nn.Sequential(*blocks)
        self.fc = linear(inp, classes)

    def forward(self, x):
        h = self.layers(F.relu(self.bn1(self.conv1(x))))
        return self.fc(h.mean(dim=(2, 3)))


class Dlrm(nn.Module):
    """models/dlrm.ts: bottom MLP (ReLU after every layer), raw ids mod vocab into one table per field, the dot
    interaction [dense, strictly lower triangle of T·Tᵀ] in DLRM's pair order, top MLP, one logit."""

    def __init__(self, dense, fields, vocab, dim, bottom, top):
        super().__init__()
        self.vocab = vocab
        self.bottom, _ = mlp(bottom, dense)
        sparse = vocab * dim > LAZY_TABLE_MIN_FLOATS
        self.emb = nn.ModuleList(table(nn.Embedding(vocab, dim, sparse=sparse), vocab) for _ in range(fields))
        n = fields + 1
        rows, cols = torch.tril_indices(n, n, offset=-1)  # (1,0), (2,0), (2,1), …: DLRM's order
        self.register_buffer('rows', rows, persistent=False)
        self.register_buffer('cols', cols, persistent=False)
        top_mlp, width = mlp(top, dim + n * (n - 1) // 2)
        self.top = nn.Sequential(*top_mlp, linear(width, 1))

    def forward(self, dense, sparse):
        h = self.bottom(dense)
        ids = sparse % self.vocab  # non-negative, as ONNX Mod with fmod 0
        t = torch.stack([h] + [e(ids[:, f]) for f, e in enumerate(self.emb)], dim=1)  # [B, N, K]
        z = torch.bmm(t, t.transpose(1, 2))
        return self.top(torch.cat([h, z[:, self.rows, self.cols]], dim=1))


class TextClassifier(nn.Module):
    """models/text.ts: token ids mod vocab, EmbeddingBag mean, MLP, linear head. (The benchmark has no -1 padding.)"""

    def __init__(self, vocab, dim, hidden, classes):
        super().__init__()
        self.vocab = vocab
        self.embedding = table(nn.EmbeddingBag(vocab, dim, mode='mean', sparse=vocab * dim > LAZY_TABLE_MIN_FLOATS), vocab)
        hidden_mlp, width = mlp(hidden, dim)
        self.head = nn.Sequential(*hidden_mlp, linear(width, classes))

    def forward(self, tokens):
        return self.head(self.embedding(tokens % self.vocab))


def build(spec, features, categorical):
    """The model, its loss kind and its output size, as lib/onnx/models/zoo.ts createModel."""
    arch = spec['architecture']
    if arch == 'logisticRegression':
        return linear(features, spec['numClasses']), 'softmax-ce', spec['numClasses']
    if arch == 'mlp':
        hidden, width = mlp(spec['hidden'], features)
        return nn.Sequential(*hidden, linear(width, spec['numClasses'])), 'softmax-ce', spec['numClasses']
    if arch == 'cnn':
        return Cnn(spec['inputShape'][0], spec['filters'], spec['numClasses']), 'softmax-ce', spec['numClasses']
    if arch == 'resnet':
        return ResNet(spec['inputShape'][0], spec['widths'], spec['blocksPerStage'], spec['numClasses']), 'softmax-ce', spec['numClasses']
    if arch == 'dlrm':
        return Dlrm(features, categorical, spec['vocabSize'], spec['embeddingDim'], spec['bottom'], spec['top']), 'bce-logits', 1
    if arch == 'textClassifier':
        return TextClassifier(spec['vocabSize'], spec['embeddingDim'], spec['hidden'], spec['numClasses']), 'softmax-ce', spec['numClasses']
    raise ValueError(f'unknown architecture {arch}')


def random_batch(spec, features, categorical, loss, classes, size):
    """Inputs as bench/train.ts randomBatch draws them: x in [0, 1), labels, unit weights, raw ids in [0, 10M)."""
    g = torch.Generator().manual_seed(size)
    y = torch.randint(0, classes if loss == 'softmax-ce' else 2, (size,), generator=g)
    w = torch.ones(size)
    ids = torch.randint(0, RAW_ID_RANGE, (size, categorical), generator=g) if categorical else None
    if spec['architecture'] == 'textClassifier':
        inputs = (ids,)
    elif spec['architecture'] == 'dlrm':
        inputs = (torch.rand(size, features, generator=g), ids)
    elif 'inputShape' in spec:
        inputs = (torch.rand(size, *spec['inputShape'], generator=g),)
    else:
        inputs = (torch.rand(size, features, generator=g),)
    return inputs, (y if loss == 'softmax-ce' else y.float()), w


def weighted_loss(loss, output, y, w):
    """lib/onnx/losses.ts weightedLoss: sum(w·l) / max(sum(w), 1e-12)."""
    if loss == 'softmax-ce':
        per_sample = F.cross_entropy(output, y, reduction='none')
    else:
        per_sample = F.binary_cross_entropy_with_logits(output.squeeze(1), y, reduction='none')
    return (w * per_sample).sum() / w.sum().clamp_min(1e-12)


def optimizers(model):
    """Adam for dense parameters; SparseAdam (lazy, touched rows only) for sparse tables, as Tideline's worker-held ones."""
    sparse_ids = {id(m.weight) for m in model.modules() if isinstance(m, (nn.Embedding, nn.EmbeddingBag)) and m.sparse}
    dense = [p for p in model.parameters() if id(p) not in sparse_ids]
    sparse = [p for p in model.parameters() if id(p) in sparse_ids]
    opts = [torch.optim.Adam(dense, lr=LR, betas=BETAS, eps=EPS, weight_decay=0)]
    if sparse:
        opts.append(torch.optim.SparseAdam(sparse, lr=LR, betas=BETAS, eps=EPS))
    return opts


def trainer(name, size):
    """The model's train step on one fixed random batch, three warm-up steps taken; and its parameter count."""
    spec, features, categorical = ZOO[name]
    torch.manual_seed(1)
    model, loss, classes = build(spec, features, categorical)
    model.train()
    opts = optimizers(model)
    inputs, y, w = random_batch(spec, features, categorical, loss, classes, size)

    def step():
        for opt in opts:
            opt.zero_grad()
        value = weighted_loss(loss, model(*inputs), y, w)
        value.backward()
        for opt in opts:
            opt.step()

    for _ in range(3):
        step()
    return step, sum(p.numel() for p in model.parameters())


def measure(name, size, seconds):
    """Samples/s over whole steps after three warm-up steps, stepping until `seconds` have passed (at least 5 steps)."""
    step, params = trainer(name, size)
    steps, started = 0, time.perf_counter()
    while steps < 5 or time.perf_counter() - started < seconds:
        step()
        steps += 1
    elapsed = time.perf_counter() - started
    return {'model': name, 'batchSize': size, 'steps': steps, 'samplesPerS': steps * size / elapsed, 'params': params}


def profile(name, size, steps):
    """torch.profiler's self CPU time by op over `steps` steps after the warm-up, in ms a step."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as profiled
    step, _ = trainer(name, size)
    with profiled(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    ops = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in ops)
    print(f'{name} batch {size}, {steps} steps: {total / 1000 / steps:.3f} ms a step (self CPU time, profiler on)')
    for e in ops[:20]:
        print(f'  {e.key:48.48s} {e.self_cpu_time_total / 1000 / steps:9.3f} {e.count / steps:6.1f}  {100 * e.self_cpu_time_total / total:5.1f}%')


def serve(name, size):
    """Segments on demand (`tide bench peer` pairs each with one of Tideline's): prints a ready line with the
    parameter count, then for each line N read, trains N steps and prints the seconds they took."""
    step, params = trainer(name, size)
    print(json.dumps({'ready': True, 'params': params, 'torch': torch.__version__}), flush=True)
    for line in sys.stdin:
        started = time.perf_counter()
        for _ in range(int(line)):
            step()
        print(json.dumps({'seconds': time.perf_counter() - started}), flush=True)


def main():
    parser = argparse.ArgumentParser(description='PyTorch peer of `tide bench train`')
    parser.add_argument('--models', default=','.join(ZOO))
    parser.add_argument('--batch-sizes', default='64,256')
    parser.add_argument('--seconds', type=float, default=3)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--serve', action='store_true', help='one model and batch size, segments on demand (see serve)')
    parser.add_argument('--profile', type=int, metavar='N', help='print CPU time by op over N steps instead (see profile)')
    args = parser.parse_args()
    models = args.models.split(',')
    unknown = [m for m in models if m not in ZOO]
    if unknown:
        parser.error(f"--models: unknown {', '.join(unknown)} (known: {', '.join(ZOO)})")
    # Before any parallel work, or torch refuses the inter-op setting.
    torch.set_num_interop_threads(1)
    torch.set_num_threads(args.threads)
    if args.serve:
        serve(models[0], int(args.batch_sizes.split(',')[0]))
        return
    for name in models:
        for size in (int(s) for s in args.batch_sizes.split(',')):
            if args.profile:
                profile(name, size, args.profile)
                continue
            row = measure(name, size, args.seconds)
            print(json.dumps({**row, 'threads': args.threads, 'torch': torch.__version__}), flush=True)


if __name__ == '__main__':
    main()
