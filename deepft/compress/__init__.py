"""Model compression (``deepft compress``): the se_e2_a embedding nets tabulated as piecewise
quintic polynomials of their scalar input (:mod:`deepft.compress.table`: knots, range,
coefficients) and written into a model.dft (:mod:`deepft.compress.model`). The native core
evaluates such a branch with the table fused into the environment-matrix contraction
(source/core/se_a_tabulated.cc)."""
