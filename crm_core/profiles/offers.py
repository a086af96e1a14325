"""The next-best offer: a category the customer has not bought, ranked by the share of other customers who bought
every category this customer bought and also that one (back-off: the best single category in common when fewer
than :data:`OFFER_MIN_SUPPORT` customers share the whole set); only categories bought more often by them than by
buyers at large (lift > 1). The counts come from the population reference's category sets."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from crm_core.profiles.reference import ProfileReference

#: Next-best offers shown.
OFFER_COUNT = 3
#: Fewest other customers that must share a set of categories before their choices count as evidence.
OFFER_MIN_SUPPORT = 30

OFFER_COLUMNS = ["category", "share", "base_rate", "lift", "similar_customers", "because", "reason"]


def _names(categories: Sequence[str]) -> str:
    if len(categories) == 1:
        return categories[0]
    return ", ".join(categories[:-1]) + " and " + categories[-1]


def next_best_offers(
    reference: ProfileReference,
    bought: Iterable[str],
    limit: int = OFFER_COUNT,
    min_support: int = OFFER_MIN_SUPPORT,
    *,
    counts_self: bool = True,
) -> pd.DataFrame:
    """Categories this customer has not bought that customers with similar purchases did buy.

    Similar customers are the others who bought every category this customer bought (``bought``). When fewer than
    ``min_support`` share the whole set, each category in common is tried alone and the strongest evidence per
    offered category wins. A category is offered when similar customers bought it more often than buyers at large
    (lift above 1); offers are ranked by that share.

    Parameters
    ----------
    bought
        The customer's purchased categories before the reference's as-of date.
    counts_self
        The customer is one of the reference's buyers (true when ``bought`` comes from the same purchases and date);
        they are then taken out of the counts, so that the shares describe other customers.

    Returns
    -------
    pandas.DataFrame
        Up to ``limit`` rows: ``category``, ``share`` (of similar customers who bought it), ``base_rate`` (of all
        other buyers), ``lift`` (share / base rate), ``similar_customers``, ``because`` (the categories in common,
        as text) and ``reason`` in words.
    """
    index = {name: i for i, name in enumerate(reference.categories)}
    own = 0
    for name in bought:
        if name in index:
            own |= 1 << index[name]
    if not reference.category_sets:
        return pd.DataFrame(columns=OFFER_COLUMNS)
    masks = np.array([m for m, _ in reference.category_sets], dtype=np.int64)
    counts = np.array([n for _, n in reference.category_sets], dtype=np.int64)
    if counts_self and own:
        counts = counts - ((masks == own) & (counts > 0))
    total = int(counts.sum())
    if total == 0:
        return pd.DataFrame(columns=OFFER_COLUMNS)
    bits = np.array([1 << i for i in range(len(reference.categories))], dtype=np.int64)
    has = (masks[:, None] & bits[None, :]) != 0  # buyers' masks x categories
    base = (counts[:, None] * has).sum(axis=0) / total
    own_bits = [i for i in range(len(reference.categories)) if own >> i & 1]
    antecedents = [own_bits] if own_bits else []
    if own_bits and _support(masks, counts, own) < min_support and len(own_bits) > 1:
        antecedents = [[i] for i in own_bits]
    best: dict[int, tuple[float, int, list[int]]] = {}
    for antecedent in antecedents:
        a_mask = sum(1 << i for i in antecedent)
        similar = (masks & a_mask) == a_mask
        n = int(counts[similar].sum())
        if n < min_support:
            continue
        shares = (counts[similar][:, None] * has[similar]).sum(axis=0) / n
        for i, share in enumerate(shares):
            if own >> i & 1:
                continue
            if i not in best or share > best[i][0]:
                best[i] = (float(share), n, antecedent)
    rows = []
    for i, (share, n, antecedent) in best.items():
        rate = float(base[i])
        if rate <= 0 or share <= rate:
            continue
        name = reference.categories[i]
        # A long list reads worse than its size; the page lists the customer's categories anyway.
        because = (
            _names([reference.categories[j] for j in antecedent])
            if len(antecedent) <= 3
            else f"the same {len(antecedent)} categories"
        )
        reason = (
            f"{share:.0%} of customers who buy {because} also buy {name} (against {rate:.0%} of all buyers); "
            "this customer has not."
        )
        rows.append((name, share, rate, share / rate, n, because, reason))
    if not own_bits:
        # Nothing bought yet: the categories most buyers buy.
        order = np.argsort(-base, kind="stable")[:limit]
        rows = [
            (
                reference.categories[i],
                float(base[i]),
                float(base[i]),
                1.0,
                total,
                "",
                f"{base[i]:.0%} of all buyers buy {reference.categories[i]}; this customer has not bought yet.",
            )
            for i in order
            if base[i] > 0
        ]
    frame = pd.DataFrame(rows, columns=OFFER_COLUMNS)
    frame = frame.sort_values(["share", "lift", "category"], ascending=[False, False, True], kind="stable")
    return frame.head(limit).reset_index(drop=True)


def _support(masks: np.ndarray, counts: np.ndarray, subset: int) -> int:
    return int(counts[(masks & subset) == subset].sum())
