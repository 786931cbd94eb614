import pytest
import torch
from torch import nn

from spacy_mclner.grid import band_mask, grid_windows
from spacy_mclner.ml import relation_head
from spacy_mclner.ml.losses import grid_cross_entropy
from spacy_mclner.ml.relation_head import ConditionalLayerNorm, RelationHead, receptive_radius


def whole(lengths: torch.Tensor) -> torch.Tensor:
    """One window per sentence, covering all of it."""
    return torch.stack([torch.arange(len(lengths)), torch.zeros_like(lengths), lengths], dim=1)


@pytest.mark.parametrize("fusion,dilations", [("lstm", (1, 2)), ("none", ())])
def test_head_shapes_and_padding_independence(fusion, dilations):
    torch.manual_seed(0)
    head = RelationHead(12, 5, fusion=fusion, hidden_width=8, biaffine_width=6, pair_width=10,
                        conv_width=4, dilations=dilations, projection_width=7, dropout=0.0)
    head.eval()
    vectors = torch.randn(2, 6, 12)
    lengths = torch.tensor([6, 3])
    logits, sentences, projections = head(vectors, lengths, whole(lengths), 4)
    assert logits.shape == (2, 6, 6, 5)
    assert sentences.shape[0] == 2
    assert projections.numel() == 0
    # The short sentence's cells must not depend on its padding.
    alone, _, _ = head(vectors[1:, :3], lengths[1:], whole(lengths[1:]), 4)
    torch.testing.assert_close(logits[1, :3, :3], alone[0], atol=1e-5, rtol=1e-4)
    head.train()
    _, _, projections = head(vectors, lengths, whole(lengths), 4)
    assert projections.shape == (2, 6, 6, 7)


def test_windows_give_the_logits_of_one_whole_grid(monkeypatch):
    """Cells of the entities a window owns equal those of an uncut grid (band + receptive radius)."""
    torch.manual_seed(0)
    dilations, max_width, n_words = (1, 2), 5, 90
    head = RelationHead(12, 4, hidden_width=8, biaffine_width=6, pair_width=10, conv_width=4,
                        dilations=dilations, projection_width=7, dropout=0.0)
    head.eval()
    vectors = torch.randn(1, n_words, 12)
    lengths = torch.tensor([n_words])
    full, _, _ = head(vectors, lengths, whole(lengths), max_width)
    # Evaluation also chunks the windows: make chunks of one window to cover that path.
    monkeypatch.setattr(relation_head, "INFERENCE_CELL_BUDGET", 1)
    cuts = grid_windows(n_words, 24, max_width, receptive_radius(dilations))
    assert len(cuts) > 3
    windows = torch.tensor([(0, start, end - start) for start, end, _, _ in cuts])
    windowed, _, _ = head(vectors, lengths, windows, max_width)
    band = torch.as_tensor(band_mask(n_words, max_width))
    for row, (start, end, own_start, own_end) in enumerate(cuts):
        for first in range(own_start, own_end):
            last = min(n_words, first + max_width)  # the cells of entities starting at `first`
            rows = slice(first, last)
            local = slice(first - start, last - start)
            cells = band[rows, rows]
            torch.testing.assert_close(
                windowed[row, local, local][cells], full[0, rows, rows][cells], atol=1e-5, rtol=1e-4
            )


def test_length_chunks_sort_windows_and_bound_their_padded_cells():
    lengths = torch.tensor([5, 2, 9, 3, 2])
    chunks = relation_head.length_chunks(lengths, 30)  # 3 x 3^2 = 27 cells fit, 5^2 + ... do not
    assert [chunk.tolist() for chunk in chunks] == [[1, 4, 3], [0], [2]]
    assert [chunk.tolist() for chunk in relation_head.length_chunks(lengths, 10_000)] == [[1, 4, 3, 0, 2]]


def test_evaluation_chunks_give_the_logits_of_one_padded_batch(monkeypatch):
    """Windows of different lengths, each padded to its chunk's longest, score as in one batch."""
    torch.manual_seed(0)
    head = RelationHead(12, 5, hidden_width=8, biaffine_width=6, pair_width=10, conv_width=4,
                        dilations=(1, 2), projection_width=7, dropout=0.0)
    head.eval()
    lengths = torch.tensor([3, 9, 1, 6, 9, 2])
    vectors = torch.randn(len(lengths), 9, 12)
    one_chunk, _, _ = head(vectors, lengths, whole(lengths), 4)
    monkeypatch.setattr(relation_head, "INFERENCE_CELL_BUDGET", 40)  # chunks [1, 2, 3], [6], [9], [9]
    chunked, _, _ = head(vectors, lengths, whole(lengths), 4)
    assert chunked.shape == one_chunk.shape == (6, 9, 9, 5)
    for row, length in enumerate(lengths.tolist()):
        torch.testing.assert_close(
            chunked[row, :length, :length], one_chunk[row, :length, :length], atol=1e-5, rtol=1e-4
        )


def test_conditional_layer_norm_starts_as_layer_norm():
    cln = ConditionalLayerNorm(8)
    hidden = torch.randn(1, 3, 8)
    expected = torch.nn.functional.layer_norm(hidden, (8,), eps=1e-6)
    gamma, normed, shift = cln(hidden)
    out = gamma.unsqueeze(2) * normed.unsqueeze(1) + shift.unsqueeze(2)  # r'_ij
    for i in range(3):
        torch.testing.assert_close(out[0, i], expected[0], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("dilations", [(1, 2), ()])
def test_projected_grid_equals_the_projection_of_the_built_grid(dilations):
    torch.manual_seed(0)
    head = RelationHead(12, 5, hidden_width=8, biaffine_width=8, pair_width=6, conv_width=4, dilations=dilations).eval()
    with torch.no_grad():
        for parameter in head.parameters():
            parameter.add_(torch.randn_like(parameter))
    hidden = torch.randn(2, 7, 8)
    lengths = torch.tensor([7, 4])
    cell_mask = (torch.arange(7)[None, :] < lengths[:, None])[:, :, None] & relation_head._band(7, 3, hidden.device)
    gamma, normed, shift = head.cln(hidden)
    parts = [gamma.unsqueeze(2) * normed.unsqueeze(1) + shift.unsqueeze(2)]
    parts += [embedding(index).expand(2, -1, -1, -1) for embedding, index in head._cell_embeddings(cell_mask)]
    grid = torch.cat(parts, dim=-1)
    linear = head.conv.reduce[1] if dilations else head.pair_mlp[1]
    expected = nn.functional.linear(grid, linear.weight.flatten(1), linear.bias)
    projected = head._project_grid(hidden, cell_mask, linear.weight.flatten(1), linear.bias, dropout=0.5)
    torch.testing.assert_close(projected, expected, atol=1e-4, rtol=1e-4)
    # In training, dropout zeroes whole input channels of a window.
    head.train()
    torch.manual_seed(1)
    dropped = head._project_grid(hidden, cell_mask, torch.eye(grid.shape[-1]), None, dropout=0.5)
    for window in range(2):
        kept = dropped[window].flatten(0, 1).abs().sum(dim=0) > 0
        assert 0 < int(kept.sum()) < grid.shape[-1]
        torch.testing.assert_close(dropped[window][..., kept], 2 * grid[window][..., kept])


def test_grid_loss_ignores_cells_and_weights_none():
    logits = torch.zeros(1, 2, 2, 3, requires_grad=True)
    targets = torch.tensor([[[0, 1], [-1, 2]]])
    loss = grid_cross_entropy(logits, targets)
    assert loss.item() == pytest.approx(torch.log(torch.tensor(3.0)).item())
    loss.backward()
    assert logits.grad[0, 1, 0].abs().sum() == 0  # ignored cell gets no gradient
    weighted = grid_cross_entropy(logits, targets, none_weight=0.0)
    assert weighted.item() == pytest.approx(loss.item())
    with pytest.raises(ValueError):
        grid_cross_entropy(logits, targets, none_weight=2.0)


def test_info_nce_prefers_matching_pairs_and_trains():
    from spacy_mclner.ml.losses import info_nce

    torch.manual_seed(0)
    anchors = torch.randn(8, 16)
    matched = info_nce(anchors, anchors + 0.01 * torch.randn(8, 16), 0.1)
    shuffled = info_nce(anchors, anchors[torch.randperm(8)], 0.1)
    assert matched.item() < 0.1 < shuffled.item()
    views = torch.randn(8, 16, requires_grad=True)
    optimizer = torch.optim.SGD([views], lr=1.0)
    first = info_nce(anchors, views, 0.1)
    for _ in range(20):
        optimizer.zero_grad()
        loss = info_nce(anchors, views, 0.1)
        loss.backward()
        optimizer.step()
    assert loss.item() < first.item() / 2
    with pytest.raises(ValueError):
        info_nce(anchors, anchors[:4], 0.1)


def test_biaffine_matches_its_formula():
    from spacy_mclner.ml.relation_head import Biaffine

    torch.manual_seed(0)
    biaffine = Biaffine(6, 4, 3, dropout=0.0)
    hidden = torch.randn(2, 5, 6)
    rows, cols = biaffine.head_mlp(hidden), biaffine.tail_mlp(hidden)
    pairs = torch.cat([rows.unsqueeze(2).expand(-1, -1, 5, -1), cols.unsqueeze(1).expand(-1, 5, -1, -1)], dim=-1)
    expected = torch.einsum("bxi,oij,byj->bxyo", rows, biaffine.bilinear, cols) + biaffine.linear(pairs)
    torch.testing.assert_close(biaffine(hidden), expected, atol=1e-5, rtol=1e-4)
