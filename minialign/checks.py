"""Shape checks shared by the losses: an error that names the argument and the shape it needed.

A loss that silently broadcasts a (B,) tensor against a (B, T) one, or a (B, 1) against a (B,),
returns a number of the wrong meaning instead of failing. These checks turn such a mistake
into a ValueError that says which argument is wrong and what was expected.
"""

from __future__ import annotations

import torch


def check_shape(name: str, x: torch.Tensor, expected: tuple[int, ...], what: str) -> None:
    """Raise a ValueError naming `name` when x does not have shape `expected` (described by `what`,
    e.g. "logp.shape (B, T)")."""
    if tuple(x.shape) != tuple(expected):
        raise ValueError(f"{name} must have shape {what} = {tuple(expected)}, got {tuple(x.shape)}")


def check_batch_vectors(**tensors: torch.Tensor) -> None:
    """Raise ValueError unless every tensor is 1-D with the same shape (B,), e.g.
    `check_batch_vectors(chosen_rewards=c, rejected_rewards=r)`."""
    first_name, first_shape = None, None
    for name, t in tensors.items():
        if t.dim() != 1:
            raise ValueError(f"{name} must have shape (B,), got shape {tuple(t.shape)}")
        if first_shape is None:
            first_name, first_shape = name, t.shape
        elif t.shape != first_shape:
            raise ValueError(
                f"{name} must have the same shape (B,) as {first_name} {tuple(first_shape)}, "
                f"got shape {tuple(t.shape)}"
            )
