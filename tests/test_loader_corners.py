"""Project loading corners (octoplan/loader.py) through the real CLI: an octoplan.yaml with
nothing in it, no octoplan.yaml at all with --env, and an environment named `default`."""

from __future__ import annotations

from tests.fixtures.project import MakeProject, run_cli

NOTICE = {
    "campaigns/n.yaml": (
        'channel: sms\npurpose: alert\ntext: "Hi"\nrecipients: [{phone_number: "0612345678"}]\n'
    )
}


def test_an_octoplan_yaml_with_only_a_comment_is_the_defaults(make_project: MakeProject) -> None:
    root = make_project(NOTICE, "# settings come later\n")
    result = run_cli("validate", cwd=root)
    assert (result.returncode, result.stdout, result.stderr) == (0, "1 campaign valid\n", "")


def test_without_octoplan_yaml_only_the_built_in_environments_exist(
    make_project: MakeProject,
) -> None:
    root = make_project(NOTICE, None)
    unknown = run_cli("plan", "--env", "staging", cwd=root)
    assert (unknown.returncode, unknown.stdout, unknown.stderr) == (
        1,
        "",
        "error: no environment 'staging' (asked by --env); known: default, sandbox (declare "
        "one under `environments:` in octoplan.yaml)\n",
    )
    default = run_cli("plan", "--env", "default", cwd=root)
    assert default.returncode == 0, default.stderr
    assert default.stdout.splitlines()[-2:] == [
        "Environment: default, https://api.octopush.com/v1/public (real messages).",
        "Plan: 1 message to send in 1 request, 1 SMS part, est. 0.04 EUR; 0 already sent.",
    ]


def test_an_environment_named_default_is_refused(make_project: MakeProject) -> None:
    root = make_project(NOTICE, "environments:\n  default: {api: {base_url: 'http://x'}}\n")
    result = run_cli("validate", cwd=root)
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        "octoplan.yaml:2:3: error: 'default' is the project's top-level settings (state, api), "
        "not an environment to declare\n"
        "  hint: give it another name, e.g. production, or move its keys to the top level\n"
        "1 error in 1 file\n",
    )
