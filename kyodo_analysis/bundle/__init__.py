"""Partner bundles (#17): anonymised, self-describing study bundles that reproduce every
published table on a partner's machine.

* :func:`build_bundle` (``kyodo bundle``) writes the bundle;
* :func:`open_bundle` opens it as a read-only :class:`BundleStudy` (same ``design()``);
* :func:`run_bundle` (``kyodo reproduce bundle.zip``) reruns the notebooks and compares every
  published table cell by cell;
* :mod:`kyodo_analysis.bundle.sdc` holds the disclosure control (k-anonymity, l-diversity,
  individual risk, global recoding, local suppression).
"""

from kyodo_analysis.bundle.build import BundleResult, build_bundle
from kyodo_analysis.bundle.reproduce import BundleReproduceResult, run_bundle
from kyodo_analysis.bundle.study import BundleError, BundleStudy, bundle_root, open_bundle

__all__ = ["BundleError", "BundleReproduceResult", "BundleResult", "BundleStudy",
           "build_bundle", "bundle_root", "open_bundle", "run_bundle"]
