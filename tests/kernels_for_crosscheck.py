"""Kernels for the claim C8 crosscheck tests: one that conforms, several deliberately wrong."""
import torch


def good(ids, table):
    c = (ids.unsqueeze(2) == ids.unsqueeze(1)).sum(2) - 1
    return table[c]


def off_by_one(ids, table):
    """Counts the sample itself (C_i + 1), a classic bug."""
    c = (ids.unsqueeze(2) == ids.unsqueeze(1)).sum(2)
    return table[c.clamp_max(ids.shape[1] - 1)]


def overflowing_key(ids, table):
    """Combines (row, id) into one int64 key row * R + (id - min) and counts batch-wide:
    R = max - min + 1 wraps around in int64 when ids span a huge range."""
    B, K = ids.shape
    ids = ids.to(torch.int64)
    mn = ids.min()
    R = ids.max() - mn + 1
    key = torch.arange(B, device=ids.device).unsqueeze(1) * R + (ids - mn)
    _, inv, cnt = torch.unique(key.reshape(-1), return_inverse=True, return_counts=True)
    return table[(cnt[inv] - 1).clamp_max(K - 1).view(B, K)]


def batch_wide_counts(ids, table):
    """Counts equal answers across the whole batch instead of within the group."""
    flat = ids.reshape(-1)
    c = (flat.unsqueeze(1) == flat.unsqueeze(0)).sum(1) - 1
    return table[c.clamp_max(ids.shape[1] - 1)].view(ids.shape)


def ignores_table(ids, table):
    """Computes the KL plug-in online instead of applying the given table."""
    c = (ids.unsqueeze(2) == ids.unsqueeze(1)).sum(2) - 1
    return torch.log((c + 1.0) / ids.shape[1]).to(torch.float64)


def wrong_shape(ids, table):
    return table[(ids.unsqueeze(2) == ids.unsqueeze(1)).sum(2) - 1].reshape(-1)
