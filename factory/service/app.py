"""The Ray Serve application: a FastAPI ingress over ``generate_sample``.

``build_app(args)`` returns the :class:`~ray.serve.Application`; nothing happens at
import time. It is what ``factory serve``, ``serve run k8s/base/serve.yaml`` and the
KubeRay RayService all start (``import_path: factory.service.app:build_app``).

Routes (the schema is at ``/openapi.json``, the docs at ``/docs``):

* ``POST /v1/samples``: a WebDataset tar stream, or JSON (see
  :class:`~factory.service.request.SampleRequest`); streamed one sample at a time;
* ``GET /v1/samples/{index}/preview.png``: a contact sheet of one frame;
* ``GET /v1/scenarios``: the shipped configs; ``GET /healthz``: liveness and counters.

Inside a replica, samples are made off the event loop on two lanes of one thread each
(more threads would only fight over the GIL): light samples, batched across requests
in ``@serve.batch`` (:func:`~factory.service.payload.make_batch`: identical samples
once, a config's samples rendered together; ``max_batch_size`` 1 on the CPU, 16 with
``device: cuda``), and heavy ones (estimated over ``light_cost_s``,
:mod:`factory.service.cost`), one at a time, so no light request waits behind one. A
sample whose request ran out of time or whose client left stops at its next step
(sample, physics step, render launch), freeing its lane; a stream asks for its next
sample only after sending the previous one.

The render device: the ``device`` setting (``factory serve --device``) replaces
``render.device`` of every config served, shipped or sent in a request (None: each
config's own); ``batch_views`` likewise. A replica whose device cannot be used there
(``cuda`` without CUDA) fails to start, naming ``render.device``; with ``device: cuda``
a replica holds 1 GPU unless ``num_gpus`` says otherwise.

Auth: when ``FACTORY_SERVE_TOKEN`` is set in the replicas' environment, every ``/v1``
route wants ``Authorization: Bearer <token>``; ``/healthz``, ``/docs`` and
``/openapi.json`` stay open for probes and people. The token is never logged.
"""

import asyncio
import hmac
import json
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response, StreamingResponse
from pydantic import ValidationError
from ray import serve
from starlette.exceptions import HTTPException as StarletteHTTPException

from factory import __version__
from factory.client.http import TOKEN_ENV
from factory.errors import ApiError, RenderError, Stopped
from factory.sample.types import sample_key
from factory.service.body import parse_json
from factory.service.catalogue import Catalogue
from factory.service.payload import JSON_TYPE, TAR_TYPE, JsonStream, TarStream, Work, make_batch, preview_png, stopper
from factory.service.request import SampleRequest, request_error, resolve
from factory.service.settings import DEPLOYMENT, Settings, app_settings

api = FastAPI(
    title="factory",
    version=__version__,
    description="Synthetic clips with exact ground truth, on demand. Every sample is the same bytes "
    "as sample `index` of a batch dataset with the same config and seed.",
)


def _error_response(err: ApiError) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if err.status == 401 else None
    # ASCII-escaped JSON: a problem that echoes a client's string can always be sent,
    # even one that is not Unicode text (FastAPI's JSONResponse encodes UTF-8 and would raise).
    body = json.dumps(err.body(), ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")
    return Response(body, status_code=err.status, headers=headers, media_type="application/json")


@api.exception_handler(ApiError)
async def _api_error(request: Request, err: ApiError) -> Response:
    return _error_response(err)


@api.exception_handler(RequestValidationError)
async def _validation_error(request: Request, err: RequestValidationError) -> Response:
    return _error_response(request_error(err.errors(), skip=1))


@api.exception_handler(StarletteHTTPException)
async def _http_error(request: Request, err: StarletteHTTPException) -> Response:
    # Unknown routes and methods: the same JSON shape as every other error.
    problem = {"field": "path", "value": f"{request.method} {request.url.path}", "message": str(err.detail)}
    return _error_response(ApiError(err.status_code, [problem]))


@api.exception_handler(Exception)
async def _server_error(request: Request, err: Exception) -> Response:
    # Not the client's fault (a sample that failed to render is a bug): 500, in JSON,
    # naming what reproduces it.
    problem = {"field": "sample", "message": f"{type(err).__name__}: {err}"}
    if isinstance(err, RenderError):
        problem = {"field": "start", "value": err.index, "message": str(err)}
    return _error_response(ApiError(500, [problem]))


def _check_token(request: Request) -> None:
    """401 unless the request carries the bearer token (when one is configured)."""
    token = os.environ.get(TOKEN_ENV)
    if not token:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise ApiError(401, [{"field": "Authorization", "message": "a valid 'Bearer <token>' header is required"}])


_SAMPLES_BODY = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": SampleRequest.model_json_schema()}}},
    "responses": {"200": {"description": "the samples", "content": {TAR_TYPE: {}, JSON_TYPE: {}}}},
}


@serve.deployment(name=DEPLOYMENT)
@serve.ingress(api)
class SampleService:
    def __init__(self, settings: dict):
        self.settings = Settings.model_validate(settings)
        self.settings.check_device()  # a replica that cannot render on its device does not start
        self.render = self.settings.render
        self.catalogue = Catalogue(self.settings.configs_dir, self.render)
        self.limits = self.settings.limits
        # Two lanes, one thread each: heavy samples (over light_cost_s) queue among
        # themselves, so a light request never waits behind one; the two share the CPU.
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="factory-make")
        self.heavy_pool = ThreadPoolExecutor(1, thread_name_prefix="factory-heavy")
        self.stats: Counter = Counter()
        self._make_batch.set_max_batch_size(self.settings.batch_size)
        self._make_batch.set_batch_wait_timeout_s(self.settings.batch_wait_timeout_s)

    @api.get("/healthz")
    async def healthz(self) -> dict:
        """Liveness, and this replica's counters."""
        return {
            "status": "ok",
            "version": __version__,
            **{
                k: self.stats[k]
                for k in ("requests", "samples", "batches", "heavy", "cancelled", "timed_out", "failed", "stopped")
            },
        }

    @api.get("/v1/scenarios")
    async def scenarios(self, request: Request) -> dict:
        """The shipped scenario configs a request can name, and their parameters."""
        _check_token(request)
        return {"scenarios": self.catalogue.describe()}

    @api.post("/v1/samples", openapi_extra=_SAMPLES_BODY)
    async def samples(self, request: Request) -> Response:
        """Samples ``start .. start+count-1`` as a tar stream or JSON."""
        _check_token(request)
        job = resolve(await self._body(request), self.catalogue, self.limits, self.render)
        self.stats["requests"] += 1
        deadline = asyncio.get_running_loop().time() + self.settings.time_limit_s
        works = [
            Work(job.config, job.config_hash, i, job.only, job.mp4, job.samples, heavy=self._heavy(job))
            for i in job.indices
        ]
        # The first sample is made before the answer starts, so that a failure or the
        # time limit can still be answered with a status code and a JSON body.
        first = await self._make(works[0], deadline)
        stream = TarStream() if job.format == "tar" else JsonStream()
        filename = f"{job.config.name}-{sample_key(job.indices.start)}-{len(job.indices)}.{job.format}"
        headers = {
            "X-Factory-Count": str(len(job.indices)),
            "X-Factory-Config-Hash": job.config_hash,
            "Content-Disposition": f'attachment; filename="{filename}"',
        }
        media_type = TAR_TYPE if job.format == "tar" else JSON_TYPE
        if len(works) == 1:  # nothing to stream: one message through Serve's proxy, with a Content-Length
            return Response(stream.sample(first) + stream.end(), media_type=media_type, headers=headers)
        return StreamingResponse(
            self._stream(stream, first, works[1:], deadline), media_type=media_type, headers=headers
        )

    @api.get(
        "/v1/samples/{index}/preview.png",
        response_class=Response,
        responses={200: {"content": {"image/png": {}}, "description": "the contact sheet"}},
    )
    async def preview(
        self,
        request: Request,
        index: int = PathParam(ge=0, lt=10**10, description="sample index"),
        scenario: str | None = Query(None, description="a shipped config (default quickstart)"),
        seed: int | None = Query(None, ge=0, lt=2**63, description="replaces the config's seed"),
        frame: int | None = Query(None, ge=0, description="which frame (default: the middle one)"),
        samples: int | None = Query(
            None, ge=1, description="size of the dataset the index belongs to (default: the open-ended stream)"
        ),
        overrides: str | None = Query(None, description="JSON object merged into the config"),
    ) -> Response:
        """A contact sheet of one frame of sample ``index``: every modality side by side."""
        _check_token(request)
        extra = parse_json(overrides, "overrides") if overrides is not None else {}
        try:
            req = SampleRequest.model_validate(
                {"scenario": scenario, "seed": seed, "start": index, "count": 1, "overrides": extra, "samples": samples}
            )
        except ValidationError as e:
            raise request_error(e.errors()) from None
        job = resolve(req, self.catalogue, self.limits, self.render)
        frames = job.config.render.frames
        if frame is not None and frame >= frames:
            raise ApiError(
                422, [{"field": "frame", "value": frame, "message": f"must be < {frames}, the clip's frame count"}]
            )
        self.stats["requests"] += 1
        loop = asyncio.get_running_loop()
        work = Work(job.config, job.config_hash, index, None, False, job.samples, heavy=self._heavy(job))
        lane = self.heavy_pool if work.heavy else self.pool
        png = await self._limited(
            loop.run_in_executor(lane, preview_png, job.config, index, frame, job.samples, stopper([work])),
            loop.time() + self.settings.time_limit_s,
            work,
        )
        return Response(png, media_type="image/png")

    # -- internals ----------------------------------------------------------------

    async def _body(self, request: Request) -> SampleRequest:
        """The parsed body: 413 over the byte limit, 400 not JSON (or too deep, not
        Unicode text, not finite: :mod:`factory.service.body`), 422 not a valid request."""
        size = request.headers.get("content-length")
        if size is not None and size.isdigit() and int(size) > self.limits.max_body_bytes:
            raise ApiError(
                413,
                [
                    {
                        "field": "body",
                        "value": int(size),
                        "message": f"{size} bytes, over the limit of {self.limits.max_body_bytes}",
                    }
                ],
            )
        raw = await request.body()
        if len(raw) > self.limits.max_body_bytes:
            raise ApiError(
                413,
                [
                    {
                        "field": "body",
                        "value": len(raw),
                        "message": f"over the limit of {self.limits.max_body_bytes} bytes",
                    }
                ],
            )
        data = parse_json(raw, "body")  # 400 for what is not JSON, too deep, not text, not finite
        if data is None:
            raise ApiError(
                422,
                [
                    {
                        "field": "body",
                        "message": 'required: a JSON object such as {"scenario": "quickstart", "count": 1}',
                    }
                ],
            )
        try:
            return SampleRequest.model_validate(data)
        except ValidationError as e:
            raise request_error(e.errors()) from None

    async def _stream(self, stream, first: dict, works: list[Work], deadline: float):
        try:
            yield stream.sample(first)
            for work in works:
                yield stream.sample(await self._make(work, deadline))
            yield stream.end()
        except asyncio.CancelledError:
            self.stats["cancelled"] += 1  # the client went away; nothing more is made
            raise
        # Any other error mid-stream propagates: with no status code left to send, the
        # response ends without its last chunk, which tells the client it is incomplete.

    async def _make(self, work: Work, deadline: float) -> dict:
        made = self._make_heavy(work) if work.heavy else self._make_batch(work)
        members = await self._limited(made, deadline, work)
        self.stats["samples"] += 1
        return members

    def _heavy(self, job) -> bool:
        """Whether the job's samples go to the heavy lane (each over ``light_cost_s``)."""
        return job.cost_s > self.settings.light_cost_s

    async def _limited(self, awaitable, deadline: float, work: Work) -> Any:
        """``awaitable``'s result (``work`` made), or 504 once the request's time limit has
        passed. However the wait ends early (the time limit, the client gone), ``work`` is
        cancelled, so it stops at its next step instead of holding its lane to the end."""
        timeout = deadline - asyncio.get_running_loop().time()
        try:
            result = await asyncio.wait_for(awaitable, max(timeout, 0.0))
        except TimeoutError:
            work.cancel.set()
            self.stats["timed_out"] += 1
            raise ApiError(
                504,
                [
                    {
                        "field": "count",
                        "value": work.index,
                        "message": (
                            f"the time limit of {self.settings.time_limit_s} s ran out at sample {work.index}; "
                            "ask for fewer or smaller samples"
                        ),
                    }
                ],
            ) from None
        except BaseException:  # the client went away (the handler is cancelled)
            work.cancel.set()
            raise
        if isinstance(result, BaseException):
            self.stats["failed"] += 1
            raise result
        return result

    @serve.batch(max_batch_size=4, batch_wait_timeout_s=0.005)
    async def _make_batch(self, works: list[Work]) -> list:
        """Light samples, batched across requests, on the light lane."""
        self.stats["batches"] += 1
        return await self._run(self.pool, works)

    async def _make_heavy(self, work: Work) -> Any:
        """A heavy sample, alone, on the heavy lane (one at a time per replica)."""
        self.stats["heavy"] += 1
        return (await self._run(self.heavy_pool, [work]))[0]

    async def _run(self, lane: ThreadPoolExecutor, works: list[Work]) -> list:
        done = lane.submit(make_batch, works)
        loop = asyncio.get_running_loop()
        # Counted when the thread ends, even if whoever awaited it has gone (a 504).
        done.add_done_callback(lambda f: loop.call_soon_threadsafe(self._count_stopped, f))
        return await asyncio.wrap_future(done)

    def _count_stopped(self, done) -> None:
        if isinstance(done.exception(), Stopped):
            self.stats["stopped"] += 1  # nobody was waiting for these any more


def build_app(args: dict[str, Any] | None = None) -> serve.Application:
    """The factory Serve application. ``args``: :class:`Settings` fields.

    Raises:
        ConfigError: an unknown argument or a bad value, naming it.
    """
    # A bad configs_dir fails here, not in every replica. The device is not checked: this
    # may run where no replica will (a head node without the replicas' GPUs).
    settings = app_settings(args)
    deployment = SampleService.options(
        autoscaling_config={
            "min_replicas": settings.min_replicas,
            "max_replicas": settings.max_replicas,
            "target_ongoing_requests": settings.target_ongoing_requests,
        },
        max_ongoing_requests=settings.max_ongoing_requests,
        ray_actor_options={"num_cpus": settings.num_cpus, "num_gpus": settings.gpus},
    )
    return deployment.bind(settings.model_dump())
