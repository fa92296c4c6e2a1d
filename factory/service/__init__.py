"""Samples on demand over HTTP.

The pure part, which imports no Ray and no web framework:

* :mod:`factory.service.catalogue`: the shipped scenario configs a request can name;
* :mod:`factory.service.request`: the request body, its validation against the service's
  limits, and :class:`~factory.service.request.ApiError` (an HTTP status and the
  problems, each naming the field, the value and what is allowed);
* :mod:`factory.service.payload`: making the samples of a request and turning them into
  the bytes of a tar stream or of a JSON answer.

The Ray Serve adapter, :mod:`factory.service.app` (FastAPI ingress, batching,
autoscaling, ``build_app``), is the only module here that imports Ray.
"""
