from tests.tiny_fits import (  # noqa: F401
    _close_figures,
    claim_map,
    kursk,
    tiny,
    tiny_fits,
    tiny_fitter,
    tiny_prior,
)
