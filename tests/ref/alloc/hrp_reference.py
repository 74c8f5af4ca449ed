#!/usr/bin/env python3
"""Independent HRP reference for tests/unit/test_alloc.c (pure Python 3).

Sources followed (no code copied; written from the published algorithms):
  * PyPortfolioOpt 1.5.6, pypfopt/hierarchical_portfolio.py, HRPOpt.optimize
    (linkage_method) with a cov_matrix: corr = cov_to_corr(cov).round(6);
    dist = sqrt(clip((1 - corr) / 2, 0, 1)); Z = scipy linkage of the
    condensed dist; order = to_tree(Z).pre_order(); recursive bisection
    of the ordered list into halves [0, len//2), [len//2, len); cluster
    variance = w' C w with inverse-variance w inside the cluster;
    alpha = 1 - V_left / (V_left + V_right) to the left half.
  * Lopez de Prado (2016), "Building diversified portfolios that
    outperform out of sample", J. Portfolio Management 42(4), listing:
    correlDist -> sch.linkage(dist, 'single') on the n x n distance
    DataFrame, i.e. scipy clusters the ROWS of d as observations with the
    Euclidean metric; getQuasiDiag (left child first); getRecBipart with
    Python 2 integer division len(i)/2.  No rounding of corr.
  * scipy.cluster.hierarchy.linkage documentation (method formulas):
    single = min, complete = max, average = mean over all leaf pairs,
    ward = Lance-Williams update
      d(u,v) = sqrt(((|v|+|s|) d(v,s)^2 + (|v|+|t|) d(v,t)^2
                     - |v| d(s,t)^2) / (|s|+|t|+|v|)),
    merge i creates cluster n+i, Z[i,0] < Z[i,1].
Single, average and complete are computed here from their definitions
over the leaf pairs (not by Lance-Williams); ward by Lance-Williams and,
when the points are Euclidean (ldp), also checked against the centroid
form sqrt(2|u||v|/(|u|+|v|)) * ||c_u - c_v||.
The matrices are tie-free: the script stops if two candidate merges are
within 1e-9 of each other.

Run: python3 hrp_reference.py > hrp_reference.txt
"""
import math

COV6 = [
    [0.020164, 0.0164635, 0.0024282, -0.00229614, -0.00486066, 0.00452412],
    [0.0164635, 0.034969, 0.0042636, 0.00475167, 0.0140213, 0.00728178],
    [0.0024282, 0.0042636, 0.009025, 0.0116309, 0.00449065, -0.0013452],
    [-0.00229614, 0.00475167, 0.0116309, 0.053361, 0.00866019, 0.0013629],
    [-0.00486066, 0.0140213, 0.00449065, 0.00866019, 0.026569, 0.00269276],
    [0.00452412, 0.00728178, -0.0013452, 0.0013629, 0.00269276, 0.013924],
]

# Seven assets on which the eight variants (2 distances x 4 linkages) give
# eight different trees.
COV7 = [
    [0.048841, -0.0200337, 0.0331588, -0.00779246, -0.0309953, 0.0041769,
     0.00116688],
    [-0.0200337, 0.067081, -0.0194302, -0.00382284, 0.0121083, 0.00538461,
     -0.0273504],
    [0.0331588, -0.0194302, 0.058564, -0.00773916, -0.02662, 0.00365904,
     -0.00042592],
    [-0.00779246, -0.00382284, -0.00773916, 0.006724, 0.008118, -0.00263466,
     0.00548416],
    [-0.0309953, 0.0121083, -0.02662, 0.008118, 0.075625, -0.006237,
     -0.00242],
    [0.0041769, 0.00538461, 0.00365904, -0.00263466, -0.006237, 0.035721,
     -0.00432432],
    [0.00116688, -0.0273504, -0.00042592, 0.00548416, -0.00242, -0.00432432,
     0.030976],
]


def corr_of(cov, round6):
    n = len(cov)
    s = [math.sqrt(cov[i][i]) for i in range(n)]
    # rho_ii = 1 exactly, so d_ii = 0: a computed 1 - 1e-16 would put
    # sqrt(5e-17) ~ 7e-9 on the diagonal of d and shift the ldp distances.
    c = [[1.0 if i == j else cov[i][j] / (s[i] * s[j]) for j in range(n)]
         for i in range(n)]
    if round6:
        c = [[round(x, 6) for x in row] for row in c]
    return c


def dist_of(corr):
    return [[math.sqrt(min(max((1.0 - x) / 2.0, 0.0), 1.0)) for x in row]
            for row in corr]


def rows_euclid(d):
    n = len(d)
    return [[math.sqrt(sum((d[i][k] - d[j][k]) ** 2 for k in range(n)))
             for j in range(n)] for i in range(n)]


def linkage(D, method, points=None):
    """Agglomerative clustering; returns [(left, right, height, size)]."""
    n = len(D)
    members = {i: [i] for i in range(n)}
    ward = {}                       # Lance-Williams distances for ward
    for i in range(n):
        for j in range(n):
            ward[(i, j)] = D[i][j]

    def cdist(a, b):
        if method == "ward":
            return ward[(a, b)]
        vals = [D[x][y] for x in members[a] for y in members[b]]
        if method == "single":
            return min(vals)
        if method == "complete":
            return max(vals)
        if method == "average":
            return sum(vals) / len(vals)
        raise ValueError(method)

    Z = []
    gap = float("inf")
    nxt = n
    while len(members) > 1:
        ids = sorted(members)
        cand = sorted((cdist(a, b), a, b) for ai, a in enumerate(ids)
                      for b in ids[ai + 1:])
        if len(cand) > 1:
            gap = min(gap, cand[1][0] - cand[0][0])
            if gap < 1e-9:
                raise SystemExit("tie in linkage: %r %r" % (cand[0], cand[1]))
        h, a, b = cand[0]
        if method == "ward" and points is not None:
            ca = [sum(points[m][k] for m in members[a]) / len(members[a])
                  for k in range(len(points[0]))]
            cb = [sum(points[m][k] for m in members[b]) / len(members[b])
                  for k in range(len(points[0]))]
            na, nb = len(members[a]), len(members[b])
            hc = math.sqrt(2.0 * na * nb / (na + nb)) * math.sqrt(
                sum((x - y) ** 2 for x, y in zip(ca, cb)))
            assert abs(hc - h) < 1e-12, (hc, h)
        if method == "ward":
            for v in members:
                if v in (a, b):
                    continue
                sv, sa, sb = len(members[v]), len(members[a]), len(members[b])
                x = ((sv + sa) * ward[(v, a)] ** 2 + (sv + sb) *
                     ward[(v, b)] ** 2 - sv * ward[(a, b)] ** 2) / (sa + sb + sv)
                ward[(v, nxt)] = ward[(nxt, v)] = math.sqrt(max(x, 0.0))
        members[nxt] = members.pop(a) + members.pop(b)
        Z.append((a, b, h, len(members[nxt])))
        nxt += 1
    linkage.gap = gap
    return Z


def pre_order(Z, n):
    out = []

    def walk(node):
        if node < n:
            out.append(node)
        else:
            l, r = Z[node - n][0], Z[node - n][1]
            walk(l)
            walk(r)
    walk(n + len(Z) - 1)
    return out


def cluster_var(cov, items):
    iv = [1.0 / cov[i][i] for i in items]
    s = sum(iv)
    w = [x / s for x in iv]
    return sum(w[a] * cov[items[a]][items[b]] * w[b]
               for a in range(len(items)) for b in range(len(items)))


def bisection(cov, order):
    w = {i: 1.0 for i in order}
    clusters = [order]
    while clusters:
        clusters = [c[j:k] for c in clusters
                    for j, k in ((0, len(c) // 2), (len(c) // 2, len(c)))
                    if len(c) > 1]
        for i in range(0, len(clusters), 2):
            left, right = clusters[i], clusters[i + 1]
            vl, vr = cluster_var(cov, left), cluster_var(cov, right)
            alpha = 1.0 - vl / (vl + vr)
            for x in left:
                w[x] *= alpha
            for x in right:
                w[x] *= 1.0 - alpha
    return [w[i] for i in range(len(cov))]


def hrp(cov, method, ldp):
    n = len(cov)
    d = dist_of(corr_of(cov, round6=not ldp))
    if ldp:
        D = rows_euclid(d)
        Z = linkage(D, method, points=d)
    else:
        Z = linkage(d, method)
    order = pre_order(Z, n)
    return Z, order, bisection(cov, order)


def main():
    print("# tests/ref/alloc/hrp_reference.txt: output of hrp_reference.py")
    print("# (Python %s); matrices COV6 and COV7 of that script" %
          ".".join(str(x) for x in __import__("sys").version_info[:3]))
    for name, cov in (("COV6", COV6), ("COV7", COV7)):
        for ldp in (False, True):
            for method in ("single", "average", "complete", "ward"):
                report(name, cov, method, ldp)


def report(name, cov, method, ldp):
    if True:
        if True:
            Z, order, w = hrp(cov, method, ldp)
            print("[%s %s %s] smallest gap between the best and the "
                  "second-best merge: %.3g" % (name, "ldp" if ldp else
                                               "condensed", method,
                                               linkage.gap))
            for (a, b, h, s) in Z:
                print("merge %d %d %r %d" % (a, b, h, s))
            print("order " + " ".join(str(i) for i in order))
            print("weights " + " ".join(repr(x) for x in w))
            print("sum %r" % sum(w))


if __name__ == "__main__":
    main()
