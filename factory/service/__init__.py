"""Samples on demand over HTTP.

The pure part, which imports no Ray and no web framework:

* :mod:`factory.service.catalogue`: the shipped scenario configs a request can name;
* :mod:`factory.service.request`: the request body and its validation against the
  service's limits, which raises :class:`factory.errors.ApiError` (an HTTP status and
  the problems, each naming the field, the value and what is allowed; the one exception
  tree is :mod:`factory.errors`);
* :mod:`factory.service.payload`: making the samples of a request (stopping when they
  are no longer wanted) and turning them into the bytes of a tar stream or a JSON answer;
* :mod:`factory.service.body`: the JSON body read so that no input ends in a 5xx;
* :mod:`factory.service.cost`: a request's estimated seconds of work, calibrated by
  ``benchmarks/calibrate_cost.py`` over the grid and with the fit of
  :mod:`factory.service.calibration`;
* :mod:`factory.service.settings`: ``build_app``'s arguments (a Serve config's ``args``).

The Ray Serve adapter, :mod:`factory.service.app` (FastAPI ingress, batching,
autoscaling, ``build_app``), is the only module here that imports Ray. What the
endpoint answers, and why: ``docs/serve.md``.
"""
