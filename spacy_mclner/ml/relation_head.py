"""Pure PyTorch modules of the token-pair relation head (docs/method.md section 2).

Input: padded word vectors of a batch of sentences and the grid windows cut from
them. Output: per-cell relation logits of each window, the pair representations'
projections for the relation contrastive loss, and a pooled sentence vector for
the semantic contrastive loss.
"""
from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from .batching import padded_groups

N_DISTANCE_BUCKETS = 10  # per direction; bucket 0 is the diagonal
# Evaluation runs the grid layers over at most this many cells at a time: about 4 KB of
# activations per cell with the default widths, so a chunk stays near 130 MB however
# long the document.
INFERENCE_CELL_BUDGET = 2**15


def receptive_radius(dilations: Sequence[int]) -> int:
    """How many cells away the cascaded 3x3 convolutions of DilatedGridConv can see."""
    return sum(dilations)


class ConditionalLayerNorm(nn.Module):
    """r'_ij = gamma_i * (h_j - mu_j) / sigma_j + lambda_i, with gamma, lambda linear in h_i.

    The conditioning weights start at zero (gamma = 1, lambda = 0), so the layer
    begins as a plain layer norm of h_j and learns how word i shapes it.
    """

    def __init__(self, width: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.gamma = nn.Linear(width, width)
        self.shift = nn.Linear(width, width)
        for layer, bias in ((self.gamma, 1.0), (self.shift, 0.0)):
            nn.init.zeros_(layer.weight)
            nn.init.constant_(layer.bias, bias)

    def forward(self, hidden: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """(gamma, normed, lambda), each B x N x D, of which r'_ij = gamma_i * normed_j + lambda_i.

        The B x N x N x D grid itself is left to the caller: the head only ever
        needs a linear projection of it, which is cheaper to take from the parts.
        """
        mean = hidden.mean(dim=-1, keepdim=True)
        std = (hidden.var(dim=-1, keepdim=True, unbiased=False) + self.eps).sqrt()
        return self.gamma(hidden), (hidden - mean) / std, self.shift(hidden)


class Biaffine(nn.Module):
    """s_ij = MLP(h_i)^T W1 MLP(h_j) + W2 [MLP(h_i); MLP(h_j)] + b, one score per class."""

    def __init__(self, width: int, size: int, n_classes: int, dropout: float) -> None:
        super().__init__()
        self.head_mlp = nn.Sequential(nn.Linear(width, size), nn.GELU(), nn.Dropout(dropout))
        self.tail_mlp = nn.Sequential(nn.Linear(width, size), nn.GELU(), nn.Dropout(dropout))
        self.bilinear = nn.Parameter(torch.zeros(n_classes, size, size))
        self.linear = nn.Linear(2 * size, n_classes)
        nn.init.xavier_normal_(self.bilinear)

    def forward(self, hidden: Tensor) -> Tensor:
        rows = self.head_mlp(hidden)
        cols = self.tail_mlp(hidden)
        bilinear = torch.einsum("bxi,oij,byj->bxyo", rows, self.bilinear, cols)
        # W2 [a; b] = W2_a a + W2_b b: applied per word, then broadcast over the grid,
        # rather than to an N x N grid of concatenated pairs.
        size = rows.shape[-1]
        row_scores = nn.functional.linear(rows, self.linear.weight[:, :size], self.linear.bias)
        col_scores = nn.functional.linear(cols, self.linear.weight[:, size:])
        return bilinear + row_scores.unsqueeze(2) + col_scores.unsqueeze(1)


class DilatedGridConv(nn.Module):
    """A 1x1 projection followed by 3x3 convolutions with several dilations, outputs concatenated.

    `reduce` (channel dropout, the 1x1 convolution, GELU) holds the projection's
    weights; RelationHead applies them to the parts of the pair grid without
    building it (RelationHead._project_grid), and `forward` takes the result.
    """

    def __init__(self, width: int, size: int, dilations: Sequence[int], dropout: float) -> None:
        super().__init__()
        self.reduce = nn.Sequential(nn.Dropout2d(dropout), nn.Conv2d(width, size, kernel_size=1), nn.GELU())
        self.dilated = nn.ModuleList(
            nn.Conv2d(size, size, kernel_size=3, dilation=d, padding=d) for d in dilations
        )

    def forward(self, reduced: Tensor, cell_mask: Tensor) -> Tensor:
        """B x N x N x size cells, the projected grid, to B x N x N x (size * len(dilations))."""
        # Cells left out (padding, off the band) are zeroed after every layer, so that a
        # sentence's cells depend neither on the other sentences of its batch nor on
        # where its grid windows are cut. Channels stay last in memory (channels_last).
        mask = cell_mask.unsqueeze(1).to(reduced.dtype)
        x = reduced.permute(0, 3, 1, 2)
        outputs = []
        for conv in self.dilated:
            x = nn.functional.gelu(conv(x)) * mask
            outputs.append(x)
        return torch.cat(outputs, dim=1).permute(0, 2, 3, 1)


class RelationHead(nn.Module):
    """Word vectors -> fusion -> pair representation -> relation logits (+ contrastive views)."""

    def __init__(
        self,
        input_width: int,
        n_classes: int,
        *,
        fusion: str = "lstm",
        hidden_width: int = 256,
        biaffine_width: int = 256,
        pair_width: int = 128,
        conv_width: int = 64,
        dilations: Sequence[int] = (1, 2, 3),
        embedding_width: int = 20,
        distance_embeddings: bool = True,
        region_embeddings: bool = True,
        projection_width: int = 128,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if fusion not in ("lstm", "none"):
            raise ValueError(f"fusion must be 'lstm' or 'none', got {fusion!r}")
        self.dropout = nn.Dropout(dropout)
        if fusion == "lstm":
            if hidden_width % 2:
                raise ValueError(f"hidden_width must be even for a BiLSTM, got {hidden_width}")
            self.fusion: Optional[nn.LSTM] = nn.LSTM(
                input_width, hidden_width // 2, batch_first=True, bidirectional=True
            )
            fused_width = hidden_width
        else:
            self.fusion = None
            fused_width = input_width
        self.cln = ConditionalLayerNorm(fused_width)
        self.distance = nn.Embedding(2 * N_DISTANCE_BUCKETS, embedding_width) if distance_embeddings else None
        self.region = nn.Embedding(3, embedding_width) if region_embeddings else None
        grid_width = fused_width + embedding_width * (distance_embeddings + region_embeddings)
        if dilations:
            self.conv: Optional[DilatedGridConv] = DilatedGridConv(grid_width, conv_width, dilations, dropout)
            grid_width = conv_width * len(dilations)
        else:
            self.conv = None
        self.pair_mlp = nn.Sequential(nn.Dropout(dropout), nn.Linear(grid_width, pair_width), nn.GELU())
        self.pair_classifier = nn.Linear(pair_width, n_classes)
        self.biaffine = Biaffine(fused_width, biaffine_width, n_classes, dropout)
        self.projection = nn.Sequential(
            nn.Linear(pair_width, pair_width), nn.GELU(), nn.Linear(pair_width, projection_width)
        )

    def forward(
        self, vectors: Tensor, lengths: Tensor, windows: Tensor, max_width: int
    ) -> Tuple[Tensor, Tensor, Tensor]:
        """Relation logits per grid window, sentence vectors and (in training) pair projections.

        vectors: padded word vectors of S sentences (S x N x D), `lengths` their lengths.
        windows: W x 3 rows of (sentence, first word, length), the grid windows.
        max_width: longest entity; cells outside the band it defines are left out.
        Returns (logits W x L x L x C, sentence vectors S x H, projections W x L x L x P).
        Projections only feed contrastive losses: in evaluation mode an empty tensor
        stands in for them, and the windows go through the grid layers in chunks of
        similar length (length_chunks), so memory does not grow with the batch and a
        doc's short sentences are not padded to its longest. Cells beyond a window's
        length hold no prediction, in either mode.
        """
        word_mask = torch.arange(vectors.shape[1], device=vectors.device)[None, :] < lengths[:, None]
        hidden = self._fuse(self.dropout(vectors), lengths)
        counts = lengths.clamp(min=1).to(hidden.dtype)[:, None]
        sentence_vectors = (hidden * word_mask.unsqueeze(-1)).sum(dim=1) / counts
        window_hidden, window_lengths = _gather_windows(hidden, windows)
        if self.training:
            logits, pairs = self._grid(window_hidden, window_lengths, max_width)
            return logits, sentence_vectors, self.projection(pairs)
        n_words = window_hidden.shape[1]
        logits = hidden.new_zeros((len(window_hidden), n_words, n_words, self.pair_classifier.out_features))
        for chunk in length_chunks(window_lengths, INFERENCE_CELL_BUDGET):
            width = int(window_lengths[chunk].max())
            chunk_logits = self._grid(window_hidden[chunk, :width], window_lengths[chunk], max_width)[0]
            logits[chunk, :width, :width] = chunk_logits.to(logits.dtype)  # bfloat16 under autocast
        return logits, sentence_vectors, hidden.new_zeros((0,))

    def _grid(self, hidden: Tensor, lengths: Tensor, max_width: int) -> Tuple[Tensor, Tensor]:
        """(logits, pair representations) of padded windows of fused word vectors."""
        n_words = hidden.shape[1]
        word_mask = torch.arange(n_words, device=hidden.device)[None, :] < lengths[:, None]
        cell_mask = word_mask[:, :, None] & word_mask[:, None, :] & _band(n_words, max_width, hidden.device)
        cells = cell_mask.unsqueeze(-1).to(hidden.dtype)
        # Both paths start with a linear map of the pair grid: the convolutions' 1x1
        # projection, or without convolutions the pair MLP's first layer.
        dropout, linear, activation = self.conv.reduce if self.conv is not None else self.pair_mlp
        weight = linear.weight.flatten(1)
        projected = activation(self._project_grid(hidden, cell_mask, weight, linear.bias, dropout.p)) * cells
        if self.conv is not None:
            pairs = self.pair_mlp(self.conv(projected, cell_mask))
        else:
            pairs = projected
        return self.pair_classifier(pairs) + self.biaffine(hidden), pairs

    def _project_grid(
        self, hidden: Tensor, cell_mask: Tensor, weight: Tensor, bias: Optional[Tensor], dropout: float
    ) -> Tensor:
        """weight @ [CLN(h)_ij; distance_ij; region_ij] + bias for every cell (B x N x N x O).

        The concatenated grid (B x N x N x (D + 2E)) is never built, which made up a
        third of the head's time: a linear map of a concatenation is the sum of the
        maps of its parts; of CLN(h)_ij = gamma_i * normed_j + lambda_i only the first
        term needs the grid; an embedding followed by a linear map is a lookup in the
        projected table. In training, dropout zeroes whole input channels per window
        (Dropout2d on the grid), applied to the parts.
        """
        gamma, normed, shift = self.cln(hidden)
        width = gamma.shape[-1]
        keep: Optional[Tensor] = None
        if self.training and dropout > 0:
            keep = torch.bernoulli(gamma.new_full((len(hidden), weight.shape[1]), 1 - dropout)) / (1 - dropout)
            gamma = gamma * keep[:, None, :width]
            shift = shift * keep[:, None, :width]
        hidden_weight = weight[:, :width]
        projected = torch.matmul(gamma.unsqueeze(2) * normed.unsqueeze(1), hidden_weight.t())
        projected = projected + nn.functional.linear(shift, hidden_weight, bias).unsqueeze(2)
        offset = width
        for embedding, index in self._cell_embeddings(cell_mask):
            columns = slice(offset, offset + embedding.embedding_dim)
            table = embedding.weight if keep is None else embedding.weight * keep[:, None, columns]
            projected = projected + _lookup(table @ weight[:, columns].t(), index)
            offset = columns.stop
        return projected

    def _cell_embeddings(self, cell_mask: Tensor) -> List[Tuple[nn.Embedding, Tensor]]:
        """The embedding tables of the grid's extra channels, each with its index per cell."""
        n_words = cell_mask.shape[1]
        embeddings = []
        if self.distance is not None:
            embeddings.append((self.distance, _distance_buckets(n_words, cell_mask.device)))
        if self.region is not None:
            embeddings.append((self.region, _regions(cell_mask)))
        return embeddings

    def _fuse(self, vectors: Tensor, lengths: Tensor) -> Tensor:
        if self.fusion is None:
            return vectors
        packed = nn.utils.rnn.pack_padded_sequence(
            vectors, lengths.cpu().clamp(min=1), batch_first=True, enforce_sorted=False
        )
        output, _ = self.fusion(packed)
        fused, _ = nn.utils.rnn.pad_packed_sequence(output, batch_first=True, total_length=vectors.shape[1])
        return fused


def length_chunks(lengths: Tensor, cell_budget: int) -> List[Tensor]:
    """Indices of the windows sorted by length, cut into chunks of at most `cell_budget` padded cells.

    A chunk pads its windows' grids to its longest one (windows x longest^2 cells).
    """
    groups = padded_groups(lengths.tolist(), cell_budget, lambda n, longest: n * longest**2)
    return [torch.tensor(group, dtype=torch.long, device=lengths.device) for group in groups]


def _distance_buckets(n_words: int, device: torch.device) -> Tensor:
    """Log-scale bucket of the signed offset i - j: 0 on the diagonal, then 1, 2, 3-4, 5-8, ..."""
    positions = torch.arange(n_words, device=device)
    offsets = positions[:, None] - positions[None, :]
    magnitude = offsets.abs()
    buckets = torch.where(
        magnitude == 0,
        torch.zeros_like(magnitude),
        (torch.log2(magnitude.clamp(min=1).float()).ceil().long() + 1).clamp(max=N_DISTANCE_BUCKETS - 1),
    )
    return (buckets + N_DISTANCE_BUCKETS * (offsets < 0).long()).unsqueeze(0)


def _regions(cell_mask: Tensor) -> Tensor:
    """0 for cells left out (padding, off the band), 1 for the lower triangle with the diagonal (THW), 2 above it (NNW)."""
    n_words = cell_mask.shape[1]
    lower = torch.tril(torch.ones(n_words, n_words, dtype=torch.long, device=cell_mask.device))
    return (2 - lower).unsqueeze(0) * cell_mask.long()


def _lookup(table: Tensor, index: Tensor) -> Tensor:
    """Rows of a T x O table (or of a B x T x O table per window) at a (1 or B) x N x N index."""
    if table.dim() == 2:
        return table[index]
    windows = torch.arange(len(table), device=table.device)[:, None, None]
    return table[windows, index.expand(len(table), -1, -1)]


def _band(n_words: int, max_width: int, device: torch.device) -> Tensor:
    """Cells (i, j) a relation can occupy: THW for 0 <= i - j < max_width, NNW for j = i + 1 (grid.band_mask)."""
    positions = torch.arange(n_words, device=device)
    offsets = positions[:, None] - positions[None, :]
    return (((offsets >= 0) & (offsets < max_width)) | (offsets == -1)).unsqueeze(0)


def _gather_windows(hidden: Tensor, windows: Tensor) -> Tuple[Tensor, Tensor]:
    """Padded word vectors (W x L x H) and lengths of the windows (sentence, first word, length)."""
    lengths = windows[:, 2]
    n_words = int(lengths.max()) if len(windows) else 0
    positions = windows[:, 1:2] + torch.arange(n_words, device=hidden.device)[None, :]
    positions = positions.clamp(max=hidden.shape[1] - 1)
    return hidden[windows[:, 0:1], positions], lengths
