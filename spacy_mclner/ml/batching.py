"""Grouping items of similar size so that padding them to the longest of their group stays cheap."""
from typing import Callable, List, Sequence


def padded_groups(sizes: Sequence[int], budget: int, padded_cost: Callable[[int, int], int]) -> List[List[int]]:
    """Indices of `sizes`, sorted by size and cut into groups whose padded cost stays within `budget`.

    padded_cost(n, longest): the cost of a group of n items padded to its longest,
    such as n * longest words or n * longest**2 grid cells. An item that alone
    exceeds the budget makes a group of its own.
    """
    groups: List[List[int]] = []
    for i in sorted(range(len(sizes)), key=sizes.__getitem__):
        # Sorted ascending, so the item being added is its group's longest.
        if groups and padded_cost(len(groups[-1]) + 1, sizes[i]) <= budget:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups
