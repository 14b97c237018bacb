"""Login and logout."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from dashboards.blueprint import bp
from dashboards.security import end_session, load_viewer, start_session
from fleet.users import authenticate_user
from fleet.web import services


def _safe_next(target: str | None) -> str:
    """Return ``target`` when it is a dashboard path on this site, else the fleet page."""
    if target and target.startswith("/dashboard/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("dashboard.fleet")


@bp.get("/login")
def login() -> Any:
    if load_viewer() is not None:
        return redirect(_safe_next(request.args.get("next")))
    return render_template("dashboard/login.html", next=request.args.get("next", ""))


@bp.post("/login")
def login_submit() -> Any:
    email = request.form.get("email", "")
    password = request.form.get("password", "")
    with services().db.session() as session:
        user = authenticate_user(session, email, password)
        user_id = user.id if user else None
    if user_id is None:
        flash("Email or password is wrong.", "error")
        return render_template("dashboard/login.html", next=request.form.get("next", ""), email=email), 401
    start_session(user_id)
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/logout")
def logout() -> Any:
    end_session()
    flash("You are logged out.", "info")
    return redirect(url_for("dashboard.login"))
