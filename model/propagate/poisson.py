"""Gradient-domain (Poisson) blending of a patchwork fill with the known pixels around it."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def neighbour(x: torch.Tensor, dy: int, dx: int, outside: float = 0.0) -> torch.Tensor:
    """Each pixel's neighbour at ``(y + dy, x + dx)`` (``|dy|, |dx| <= 1``) for ``[B,C,H,W]``.

    Pixels past the image edge read ``outside`` (bool tensors: ``outside > 0.5``).
    """
    h, w = x.shape[-2:]
    padded = F.pad(x.to(torch.float32) if x.dtype == torch.bool else x, (1, 1, 1, 1), value=outside)
    out = padded[..., 1 + dy:1 + dy + h, 1 + dx:1 + dx + w]
    return out > 0.5 if x.dtype == torch.bool else out


def _shifted(step: int, length: int) -> tuple[slice, slice]:
    """Slices ``(at p, at p + step)`` along one axis of ``length`` for ``|step| <= 1``: the pairs inside it."""
    if step > 0:
        return slice(0, length - 1), slice(1, length)
    if step < 0:
        return slice(1, length), slice(0, length - 1)
    return slice(0, length), slice(0, length)


def poisson_blend(fill: torch.Tensor, guide_x: torch.Tensor, guide_y: torch.Tensor, frame: torch.Tensor,
                  region: torch.Tensor, known: torch.Tensor, guide_x_ok: torch.Tensor | None = None,
                  guide_y_ok: torch.Tensor | None = None, iterations: int = 300, tolerance: float = 1e-3,
                  screening: float = 1e-3) -> torch.Tensor:
    """Solve for colours inside ``region`` whose gradients follow the guidance and that meet ``frame``.

    Minimises, over the 4-neighbour edges ``(a, a + e)`` that touch the region and whose other
    end is in the region or known,

        ``(f[a + e] - f[a] - guide_e[a])^2``  (``f`` = ``frame`` on known pixels),

    plus ``screening * (f - fill)^2`` inside the region. With the guidance taken from each
    pixel's own source frame, pixels copied from different frames keep their texture while
    colour steps at the seams and at the hole's border are spread smoothly over the region
    (Poisson image editing). Where an edge has no guidance (``guide_e_ok`` False) it keeps the
    fill's own difference between two region pixels and is left out between a region pixel and a
    known one. Edges to pixels that are neither in the region nor known (the hole that stays)
    add nothing. Jacobi-preconditioned conjugate gradients on the region's pixels, starting
    from ``fill``.

    Args:
        fill: ``[1,C,H,W]`` colours, read inside ``region``.
        guide_x, guide_y: ``[1,C,H,W]`` wanted forward differences ``f[x+1] - f[x]`` and
            ``f[y+1] - f[y]`` at each pixel.
        frame: ``[1,C,H,W]``, read where ``known``.
        region: ``[1,1,H,W]`` bool, the pixels to solve for; known: ``[1,1,H,W]`` bool, fixed pixels.
        guide_x_ok, guide_y_ok: ``[1,1,H,W]`` bool, where the guidance is measured (default: everywhere).
        iterations, tolerance: conjugate-gradient limits (relative residual).
    Returns:
        ``[1,C,H,W]``: the solution inside ``region``, ``fill`` elsewhere (not clamped).
    """
    if not region.any():
        return fill
    ys, xs = torch.nonzero(region[0, 0], as_tuple=True)
    h_img, w_img = region.shape[-2:]
    y0, y1 = max(int(ys.min()) - 1, 0), min(int(ys.max()) + 2, h_img)
    x0, x1 = max(int(xs.min()) - 1, 0), min(int(xs.max()) + 2, w_img)
    crop = (Ellipsis, slice(y0, y1), slice(x0, x1))
    g, image, inside = fill[crop], frame[crop], region[crop]
    fixed = known[crop] & ~inside
    mask = inside.float()
    guides = []
    for guide, ok, (dy, dx) in ((guide_x, guide_x_ok, (0, 1)), (guide_y, guide_y_ok, (1, 0))):
        guide, ok = guide[crop], (ok[crop] if ok is not None else torch.ones_like(inside))
        between_region = inside & neighbour(inside, dy, dx)
        guides.append((torch.where(ok, guide, neighbour(g, dy, dx) - g), ok | between_region))

    diag = torch.full_like(mask, screening)
    rhs = screening * g
    links = []  # (dy, dx, weight of the neighbour's unknown)
    for dy, dx, (guide, usable) in ((0, 1, guides[0]), (0, -1, guides[0]), (1, 0, guides[1]), (-1, 0, guides[1])):
        q_in, q_fixed = neighbour(inside, dy, dx), neighbour(fixed, dy, dx)
        ahead = dy + dx > 0
        # edge (p, p+e) wants f[p+e] - f[p] = guide[p]; edge (p-e, p) wants f[p] - f[p-e] = guide[p-e]
        usable = usable if ahead else neighbour(usable, dy, dx)
        active = ((q_in | q_fixed) & usable).float()
        diag = diag + active
        rhs = rhs + q_fixed.float() * active * neighbour(image, dy, dx)
        rhs = rhs + active * (-guide if ahead else neighbour(guide, dy, dx))
        links.append((dy, dx, q_in.float() * active))

    # conjugate gradients on the crop as images [C,h,w]: zero outside the region, where every
    # coupling is 0 and the diagonal 1, so those pixels never change (slices, no gathers)
    d = torch.where(inside, diag, torch.ones_like(diag))[0]
    b = (rhs * mask)[0]
    couplings = [(dy, dx, (link * mask)[0]) for dy, dx, link in links]

    def apply(x: torch.Tensor) -> torch.Tensor:
        out = d * x
        for dy, dx, weight in couplings:  # out[p] -= weight[p] * x[p + (dy, dx)]
            rows_p, rows_q = _shifted(dy, x.shape[-2])
            cols_p, cols_q = _shifted(dx, x.shape[-1])
            out[:, rows_p, cols_p] -= weight[:, rows_p, cols_p] * x[:, rows_q, cols_q]
        return out

    x = (g * mask)[0]
    r = b - apply(x)
    z = r / d
    p = z.clone()
    rz = (r * z).sum((1, 2), keepdim=True)
    stop = tolerance ** 2 * (b * b).sum((1, 2), keepdim=True).clamp_min(1e-20)
    for _ in range(iterations):
        if bool(((r * r).sum((1, 2), keepdim=True) <= stop).all()):
            break
        ap = apply(p)
        alpha = rz / (p * ap).sum((1, 2), keepdim=True).clamp_min(1e-20)
        x = torch.addcmul(x, alpha, p)
        r = torch.addcmul(r, alpha, ap, value=-1.0)
        z = r / d
        rz_new = (r * z).sum((1, 2), keepdim=True)
        p = torch.addcmul(z, rz_new / rz.clamp_min(1e-20), p)
        rz = rz_new
    solved = torch.where(inside, x[None], g)
    out = fill.clone()
    out[crop] = solved
    return out
