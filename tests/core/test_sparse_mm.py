"""core.determinism.sparse_mm: the fits' sparse x dense products, summed in a fixed order."""
import torch

from facesculpt.core.determinism import sparse_mm


def _case():
    g = torch.Generator().manual_seed(0)
    idx = torch.stack([torch.randint(0, 500, (4000,), generator=g), torch.randint(0, 400, (4000,), generator=g)])
    S = torch.sparse_coo_tensor(idx, torch.rand(4000, generator=g), (500, 400), check_invariants=True).coalesce()
    return S, torch.rand(400, 3, generator=g, dtype=torch.float32)


def test_sparse_mm_equals_the_dense_product_and_its_gradient():
    S, x = _case()
    x.requires_grad_(True)
    y = sparse_mm(S, x)
    assert y.shape == (500, 3)
    torch.testing.assert_close(y, S.to_dense() @ x)
    y.sum().backward()
    torch.testing.assert_close(x.grad, S.to_dense().sum(0)[:, None].expand(400, 3))
    # an uncoalesced matrix (repeated entries) sums its duplicates, as torch.sparse.mm does
    U = torch.sparse_coo_tensor(torch.tensor([[0, 0], [1, 1]]), torch.tensor([1.0, 2.0]), (2, 400), check_invariants=True)
    torch.testing.assert_close(sparse_mm(U, x.detach()), torch.sparse.mm(U, x.detach()))


def test_sparse_mm_is_bit_identical_on_any_thread_count():
    S, x = _case()
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = sparse_mm(S, x)
        torch.set_num_threads(2)
        two = sparse_mm(S, x)
        assert torch.get_num_threads() == 2  # restored after the call
    finally:
        torch.set_num_threads(before)
    assert torch.equal(one, two)
