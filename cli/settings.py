"""`cifar-tui settings` (the bell and the webhook that tell a run's end) and
`cifar-tui notify-test` (check that webhook)."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from typing import Any

from cli.common import CliError
from engine import settings as st


def register(sub: Any) -> None:
    p = sub.add_parser(
        "settings", help="show or set how a run's end is told (bell, webhook) and which "
                    "devices a started worker serves",
        description="When a run completes or fails, every open TUI shows it and rings the "
                    "terminal bell, and the process that ended it POSTs a line to the webhook "
                    f"if one is set (an ntfy topic, say). Saved in {st.SETTINGS_FILE} in the "
                    f"app folder; ${st.WEBHOOK_ENV} and ${st.BELL_ENV}=0 override it.")
    p.add_argument("--bell", choices=("on", "off"), help="ring the bell in the TUI, or not")
    hook = p.add_mutually_exclusive_group()
    hook.add_argument("--webhook-url", metavar="URL",
                      help="POST each run's end here, e.g. https://ntfy.sh/mytopic")
    hook.add_argument("--no-webhook", action="store_true", help="stop posting")
    p.add_argument("--all-gpus", choices=("on", "off"),
                   help="on (default): `queue` and the TUI start a worker for every visible "
                        "GPU; off: one worker (device auto)")
    p.set_defaults(func=cmd_settings)

    t = sub.add_parser(
        "notify-test", help="POST a test message to the configured webhook",
        description="Send a test message to the webhook set with `cifar-tui settings "
                    "--webhook-url URL` and say whether it arrived.")
    t.set_defaults(func=cmd_notify_test)


def _load_file() -> st.Settings:
    try:
        return st.load_file()
    except st.SettingsError as exc:
        raise CliError(str(exc)) from None


def cmd_settings(args: argparse.Namespace) -> int:
    saved = _load_file()
    changes: dict[str, Any] = {}
    if args.bell is not None:
        changes["bell"] = args.bell == "on"
    if args.webhook_url is not None:
        if problem := st.webhook_problem(args.webhook_url):
            raise CliError(problem)
        changes["webhook_url"] = args.webhook_url.strip()
    elif args.no_webhook:
        changes["webhook_url"] = None
    if args.all_gpus is not None:
        changes["all_gpus"] = args.all_gpus == "on"
    if changes:
        try:
            st.save(replace(saved, **changes))
        except OSError as exc:
            raise CliError(f"cannot write {st.settings_path()}: {exc.strerror or exc}; "
                           "check the app folder's permissions ($CIFAR_TUI_HOME)") from None
    shown = st.load()  # what is in force, the environment included
    env_url = f"  (from ${st.WEBHOOK_ENV})" if st.WEBHOOK_ENV in os.environ else ""
    env_bell = "  (off by $CIFAR_TUI_BELL)" if shown.bell != _load_file().bell else ""
    print(f"bell         {'on' if shown.bell else 'off'}{env_bell}")
    print(f"webhook url  {shown.webhook_url or '(none)'}{env_url}")
    print(f"all gpus     {'on' if shown.all_gpus else 'off'}  (workers that `queue` and the "
          "TUI start)")
    print(f"file         {st.settings_path()}" + ("  (saved now)" if changes else ""))
    return 0


def cmd_notify_test(args: argparse.Namespace) -> int:
    from worker.notify import post_webhook

    try:
        url = st.load().webhook_url
    except st.SettingsError as exc:
        raise CliError(str(exc)) from None
    if not url:
        raise CliError("no webhook URL configured; set one with "
                       "`cifar-tui settings --webhook-url https://ntfy.sh/mytopic`")
    result = post_webhook(url, "cifar-tui: test",
                          "Test from cifar-tui: run ends will be told here.")
    if result.ok:
        print(f"webhook {url} answered {result.detail}: it works")
        return 0
    print(f"cifar-tui: webhook {url} failed: {result.detail}", file=sys.stderr)
    return 1
