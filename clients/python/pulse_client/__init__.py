"""A small Python client for Pulse's gRPC API, for notebooks and scripts.

    from pulse_client import Pulse
    pulse = Pulse("127.0.0.1:50051")            # PULSE_ADDR / PULSE_API_KEY by default
    pulse.score("acct-000128").churn_probability
    pulse.scores()                                # every live account, a DataFrame
    pulse.risk_list(top=20)                       # this week's at-risk list

Every method calls the real server over gRPC; the `*_pb2` messages come from
the checkout's `proto/` (generated on first import, see `_proto.py`). Methods
that return many rows return pandas DataFrames; the raw stubs are available as
`pulse.scoring`, `pulse.account`, `pulse.list`, `pulse.model`,
`pulse.sentiment` (one per service of the protos, named after it without
"Service", lower case; `forecast_stub` where a helper
method has the name) for everything else, with `pb["scoring"]` etc. for the
messages.
"""

from __future__ import annotations

import json
import os
from typing import Iterable

import grpc

from . import _proto

pb = _proto.load()

__all__ = ["Pulse", "pb", "PulseError"]


class PulseError(RuntimeError):
    """A call failed: the gRPC status code and the server's message."""

    def __init__(self, rpc: str, err: grpc.RpcError):
        self.code = err.code()
        self.details = err.details()
        super().__init__(f"{rpc}: {self.code.name}: {self.details}")


def _frame(rows: list[dict]):
    import pandas as pd

    return pd.DataFrame(rows)


class Pulse:
    """A connection to a Pulse server.

    `addr` defaults to `PULSE_ADDR` or 127.0.0.1:50051; `api_key` to
    `PULSE_API_KEY` (sent as `authorization: Bearer <key>`).
    """

    def __init__(self, addr: str | None = None, api_key: str | None = None, timeout: float = 60.0):
        self.addr = addr or os.environ.get("PULSE_ADDR", "127.0.0.1:50051")
        key = api_key if api_key is not None else os.environ.get("PULSE_API_KEY")
        self._metadata = [("authorization", f"Bearer {key}")] if key else []
        self.timeout = timeout
        self.channel = grpc.insecure_channel(
            self.addr, options=[("grpc.max_receive_message_length", 256 << 20)]
        )
        for name, mod in pb.items():
            if not name.endswith("_grpc"):
                continue
            for attr in dir(mod):
                if attr.endswith("ServiceStub"):
                    short = attr[: -len("ServiceStub")].lower()
                    if hasattr(type(self), short):  # a helper method of that name
                        short += "_stub"
                    setattr(self, short, getattr(mod, attr)(self.channel))

    def close(self):
        self.channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- plumbing ---------------------------------------------------------

    def call(self, stub_method, request, rpc: str):
        """Calls a unary RPC with the key and timeout; raises PulseError."""
        try:
            return stub_method(request, metadata=self._metadata, timeout=self.timeout)
        except grpc.RpcError as e:
            raise PulseError(rpc, e) from None

    def stream(self, stub_method, request, rpc: str):
        try:
            yield from stub_method(request, metadata=self._metadata, timeout=self.timeout)
        except grpc.RpcError as e:
            raise PulseError(rpc, e) from None

    def wait_ready(self, seconds: float = 120.0):
        """Blocks until the channel is up and the scoring population is built."""
        import time

        grpc.channel_ready_future(self.channel).result(timeout=seconds)
        deadline = time.monotonic() + seconds
        while True:
            try:
                self.scores(limit=1)
                return self
            except PulseError as e:
                if e.code != grpc.StatusCode.UNAVAILABLE or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    # -- accounts ---------------------------------------------------------

    def accounts_frame(self, segment: str = "", owner: str = ""):
        """Every account (id, name, segment, plan, MRR, ARR, seats, owner, dates, status)."""
        s = pb["accounts"]
        rows, token = [], ""
        while True:
            r = self.call(
                self.account.ListAccounts,
                s.ListAccountsRequest(page_size=1000, page_token=token, segment=segment, owner=owner),
                "ListAccounts",
            )
            for a in r.accounts:
                rows.append(
                    dict(
                        account_id=a.id,
                        name=a.name,
                        segment=a.segment,
                        industry=a.industry,
                        region=a.region,
                        plan=a.plan,
                        mrr=a.mrr,
                        arr=12.0 * a.mrr,
                        seats=a.seats,
                        owner=a.owner,
                        start_date=a.start_date,
                        renewal_date=a.renewal_date or None,
                        status=a.status,
                    )
                )
            token = r.next_page_token
            if not token:
                return _frame(rows)

    # -- scores -----------------------------------------------------------

    def score(self, account_id: str, as_of: str = "", top_drivers: int = 0):
        """`ScoringService.Score` by id (as of a past date: the stored score)."""
        s = pb["scoring"]
        return self.call(
            self.scoring.Score,
            s.ScoreRequest(account_id=account_id, as_of=as_of, top_drivers=top_drivers),
            "Score",
        )

    @staticmethod
    def score_row(r) -> dict:
        return dict(
            account_id=r.account_id,
            as_of=r.as_of,
            churn_probability=r.churn_probability,
            health=r.health,
            band=r.band,
            quadrant=r.quadrant,
            outcome=r.outcome,
            experience=r.experience,
            expansion_probability=r.expansion_probability if r.HasField("expansion_probability") else None,
            arr=r.arr,
            arr_at_risk=r.arr_at_risk,
            drivers=[d.sentence for d in r.drivers],
            suggested_play=r.suggested_play,
            churn_model=r.models.churn,
        )

    def scores(self, account_ids: Iterable[str] = (), top_drivers: int = 0, limit: int | None = None):
        """Live scores of every account (or the given ones) via ScoreBatch, a DataFrame."""
        s = pb["scoring"]
        rows = []
        req = s.ScoreBatchRequest(account_ids=list(account_ids), top_drivers=top_drivers)
        for chunk in self.stream(self.scoring.ScoreBatch, req, "ScoreBatch"):
            rows.extend(self.score_row(r) for r in chunk.scores)
            if limit is not None and len(rows) >= limit:
                break
        return _frame(rows[:limit] if limit is not None else rows)

    def explain(self, account_id: str):
        """Every feature's contribution to an account's churn score, strongest first.

        Returns (DataFrame, base_value, margin): base_value + contributions = margin.
        """
        s = pb["scoring"]
        e = self.call(self.scoring.Explain, s.ScoreRequest(account_id=account_id), "Explain")
        rows = [
            dict(
                feature=d.feature,
                family=d.family,
                value=d.value,
                contribution=d.contribution,
                sentence=d.sentence,
                comparison=d.comparison.text if d.HasField("comparison") else "",
                play=d.play,
            )
            for d in e.contributions
        ]
        return _frame(rows), e.base_value, e.margin

    def profile(self, account_id: str):
        s = pb["scoring"]
        return self.call(
            self.scoring.GetAccountProfile,
            s.GetAccountProfileRequest(account_id=account_id),
            "GetAccountProfile",
        )

    def score_runs(self, limit: int = 100):
        """Stored scoring runs, oldest first."""
        s = pb["scoring"]
        r = self.call(self.scoring.ListScoreRuns, s.ListScoreRunsRequest(limit=limit), "ListScoreRuns")
        rows = [
            dict(run_id=x.run_id, as_of=x.as_of, created_at=x.created_at, churn_model=x.models.churn,
                 trigger=x.trigger, accounts=x.accounts)
            for x in r.runs
        ]
        return _frame(rows).sort_values("as_of").reset_index(drop=True)

    def history(self, account_ids: Iterable[str], as_of: Iterable[str]):
        """Stored scores of accounts on past dates (as they were shown then), a DataFrame."""
        rows = []
        for day in as_of:
            for aid in account_ids:
                try:
                    r = self.score(aid, as_of=day)
                except PulseError as e:
                    if e.code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION):
                        continue
                    raise
                row = self.score_row(r)
                row["run_as_of"] = day
                rows.append(row)
        return _frame(rows)

    # -- lists ------------------------------------------------------------

    def risk_list(self, week: str = "", owner: str = "", segment: str = "", band: str = "", top: int = 0):
        """The week's at-risk list (latest generated week by default), a DataFrame."""
        s = pb["lists"]
        req = s.ListRequest(week=week, owner=owner, segment=segment, band=band, top=top)
        rows = []
        for chunk in self.stream(self.list.GetRiskList, req, "GetRiskList"):
            for r in chunk.rows:
                rows.append(
                    dict(
                        rank=r.rank,
                        account_id=r.account_id,
                        name=r.name,
                        owner=r.owner,
                        segment=r.segment,
                        arr=r.arr,
                        churn_probability=r.churn_probability,
                        health=r.health,
                        band=r.band,
                        arr_at_risk=r.arr_at_risk,
                        health_change=r.health_change if r.HasField("health_change") else None,
                        drivers=list(r.drivers),
                        suggested_play=r.suggested_play,
                        days_to_renewal=r.days_to_renewal if r.HasField("days_to_renewal") else None,
                        in_capacity=r.in_capacity,
                    )
                )
        return _frame(rows)

    # -- forecasts --------------------------------------------------------

    def forecast(self, horizon_days: int = 0, group_by: str = "total", as_of: str = ""):
        """`ForecastService.Forecast`: returns (response, DataFrame of the total and each group).

        Each estimate becomes `<figure>`, `<figure>_lo80`, `<figure>_hi80`, `<figure>_lo95`,
        `<figure>_hi95` columns; `last_*` columns hold last period's actual figures.
        """
        f = pb["forecast"]
        r = self.call(
            self.forecast_stub.Forecast,
            f.ForecastRequest(horizon_days=horizon_days, group_by=group_by, as_of=as_of),
            "Forecast",
        )
        rows = []
        for g in [r.total, *r.groups]:
            row = dict(group=g.group, accounts=g.accounts, current_arr=g.current_arr,
                       contraction_arr=g.contraction_arr)
            for name in ["churned_accounts", "churned_arr", "expansion_arr",
                         "gross_revenue_retention", "net_revenue_retention"]:
                e = getattr(g, name)
                row[name] = e.expected
                row[name + "_lo80"], row[name + "_hi80"] = e.interval_80.lo, e.interval_80.hi
                row[name + "_lo95"], row[name + "_hi95"] = e.interval_95.lo, e.interval_95.hi
            if g.HasField("last_period"):
                lp = g.last_period
                row.update(last_from=lp.__getattribute__("from"), last_to=lp.to,
                           last_churned_accounts=lp.churned_accounts, last_churned_arr=lp.churned_arr,
                           last_expansion_arr=lp.expansion_arr,
                           last_gross_revenue_retention=lp.gross_revenue_retention,
                           last_net_revenue_retention=lp.net_revenue_retention)
            rows.append(row)
        return r, _frame(rows)

    # -- models -----------------------------------------------------------

    def model_card(self, kind: str = "churn", version: str = "") -> dict:
        """The model card (JSON) of a model: the promoted one of `kind` by default."""
        m = pb["models"]
        if not version:
            listed = self.call(self.model.ListModels, m.ListModelsRequest(), "ListModels")
            promoted = [x for x in listed.models if x.kind == kind and x.promoted]
            if not promoted:
                raise LookupError(f"no promoted {kind} model: run `pulse train`")
            version = promoted[0].version
        card = self.call(self.model.GetModelCard, m.GetModelCardRequest(version=version), "GetModelCard")
        return json.loads(card.card_json)

    # -- sentiment --------------------------------------------------------

    def analyze(self, texts: list[str], batch: int = 1000):
        """Sentiment of texts (label, score in [-1, 1], probabilities), a DataFrame."""
        s = pb["sentiment"]
        rows = []
        for i in range(0, len(texts), batch):
            r = self.call(
                self.sentiment.Analyze,
                s.AnalyzeRequest(texts=texts[i : i + batch]),
                "Analyze",
            )
            for t, x in zip(texts[i : i + batch], r.results):
                rows.append(
                    dict(text=t, label=x.label, score=x.score, negative=x.negative,
                         neutral=x.neutral, positive=x.positive)
                )
        return _frame(rows)
