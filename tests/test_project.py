"""What identifies a project: the remote's normalised URL (never its credentials), else the directory.

The URL table is checked on the pure functions; the rest on real repositories made with git in a temp
dir (worktrees, submodules, bare repositories, several remotes), read by ``project.locate`` without git.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from mem0_hooks import project
from mem0_hooks.project import Project, display_url, locate, parse_git_config, project_of, project_root, remote_identity

# -- the URL table ------------------------------------------------------------------------------------
SAME = [
    "git@github.com:acme/shop.git",
    "git@github.com:acme/shop",
    "https://github.com/acme/shop",
    "https://github.com/acme/shop.git",
    "https://github.com/acme/shop/",
    "https://github.com/acme/shop.git/",
    "http://github.com/acme/shop",
    "ssh://git@github.com/acme/shop",
    "ssh://git@github.com:22/acme/shop.git",
    "ssh://git@ssh.github.com:443/acme/shop.git",
    "git+ssh://git@github.com/acme/shop.git",
    "git://github.com/acme/shop.git",
    "https://user:token@github.com/acme/shop.git",
    "https://x-access-token:ghs_abc123@github.com/acme/shop",
    "https://ghp_abc123@github.com/acme/shop.git",
    "https://user:p@ss@github.com/acme/shop",
    "https://GitHub.com/Acme/Shop.git",
    "https://www.github.com/acme/shop",
    "https://github.com/acme/shop.git?ref=main#readme",
    "https://github.com//acme/shop",
    "  https://github.com/acme/shop  ",
]


@pytest.mark.parametrize("url", SAME)
def test_every_spelling_of_one_repository_is_one_project(url: str) -> None:
    assert remote_identity(url) == "github.com/acme/shop"


@pytest.mark.parametrize(
    ("url", "identity"),
    [
        ("git@gitlab.example.com:Group/Sub/Repo.git", "gitlab.example.com/Group/Sub/Repo"),  # case kept: unknown host
        ("https://gitlab.example.com/Group/Sub/Repo", "gitlab.example.com/Group/Sub/Repo"),
        ("https://GitLab.com/Group/Sub/Repo.git", "gitlab.com/group/sub/repo"),
        ("git@bitbucket.org:team/app.git", "bitbucket.org/team/app"),
        ("https://team@bitbucket.org/team/app.git", "bitbucket.org/team/app"),
        ("https://org@dev.azure.com/org/proj/_git/repo", "dev.azure.com/org/proj/repo"),
        ("git@ssh.dev.azure.com:v3/org/proj/repo", "dev.azure.com/org/proj/repo"),
        ("https://org.visualstudio.com/DefaultCollection/proj/_git/repo", "dev.azure.com/org/proj/repo"),
        ("ssh://git@git.internal:2222/tools/ci.git", "git.internal/tools/ci"),
        ("https://git.internal:8443/tools/ci", "git.internal/tools/ci"),
        ("ssh://[fd00::1]:2222/tools/ci.git", "[fd00::1]/tools/ci"),
        ("me@host:~me/repo.git", "host/~me/repo"),
    ],
)
def test_other_hosts(url: str, identity: str) -> None:
    assert remote_identity(url) == identity


@pytest.mark.parametrize(
    "url",
    [
        "/srv/git/shop.git",  # a local path is not the same path on another machine
        "../shop",
        "./a:b",
        "file:///srv/git/shop.git",
        "c:/repos/shop",
        "https://github.com",  # no repository
        "git@github.com:",
        "",
        "https://user:pa/ss@github.com/acme/shop",  # malformed: a password with "/" would leak into the path
    ],
)
def test_addresses_without_a_host_give_no_identity(url: str) -> None:
    assert remote_identity(url) is None


SECRETS = ["tok3n-SECRET", "ghp_S3CRET0123456789", "p@ss/w0rd", "glpat-SECRETSECRET"]


@pytest.mark.parametrize("secret", SECRETS)
@pytest.mark.parametrize(
    "template",
    [
        "https://user:{s}@github.com/acme/shop.git",
        "https://{s}@github.com/acme/shop.git",
        "https://oauth2:{s}@gitlab.com/acme/shop.git",
        "https://github.com/acme/shop.git?private_token={s}",
        "https://github.com/acme/shop.git#{s}",
        "ssh://user:{s}@git.internal/acme/shop.git",
    ],
)
def test_credentials_never_reach_the_identity_or_what_is_shown(template: str, secret: str) -> None:
    url = template.format(s=secret)
    identity = remote_identity(url)
    for piece in (secret, secret.split("/")[0], secret.split("@")[-1]):
        assert piece not in (identity or ""), (url, identity)
        assert piece not in display_url(url), (url, display_url(url))


def test_display_keeps_the_usual_user_names_only() -> None:
    assert display_url("git@github.com:acme/shop.git") == "git@github.com:acme/shop.git"
    assert display_url("ssh://git@github.com/acme/shop") == "ssh://git@github.com/acme/shop"
    assert display_url("https://alice@github.com/acme/shop") == "https://github.com/acme/shop"


def test_git_config_parsing() -> None:
    text = (
        "[core]\n\tbare = false\n"
        '[remote "origin"]\n\turl = "git@github.com:acme/shop.git" # a comment\n'
        "\tfetch = +refs/heads/*:refs/remotes/origin/*\n"
        '[Remote "Fork"]\n\tURL = https://github.com/me/shop ; another\n'
        "[remote.old]\n\turl = https://example.org/x\n"
        '[url "git@github.com:"] insteadOf = gh:\n'
        "[mem0-hooks]\n\tproject = acme \\\n  shop\n"
        '[weird "a\\"b"]\n\tflag\n'
    )
    entries = parse_git_config(text)
    assert ("remote", "origin", "url", "git@github.com:acme/shop.git") in entries
    assert ("remote", "Fork", "url", "https://github.com/me/shop") in entries  # subsection case kept
    assert ("remote", "old", "url", "https://example.org/x") in entries
    assert ("url", "git@github.com:", "insteadof", "gh:") in entries
    assert ("mem0-hooks", "", "project", "acme   shop") in entries
    assert ("weird", 'a"b', "flag", "true") in entries


# -- real repositories ----------------------------------------------------------------------------------
def git(*args: str, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@e", GIT_COMMITTER_NAME="t")
    env.update(GIT_COMMITTER_EMAIL="t@e")
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return done.stdout


def make_repo(path: Path, *remotes: tuple[str, str], commit: bool = False) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git("init", "-q", "-b", "main", cwd=path)
    for name, url in remotes:
        git("remote", "add", name, url, cwd=path)
    if commit:
        (path / "README").write_text("hi\n")
        git("add", "README", cwd=path)
        git("commit", "-q", "-m", "first", cwd=path)
    return path


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    project._CACHE.clear()


def test_a_repository_with_origin_is_its_remote_from_any_subdirectory(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "shop", ("origin", "https://alice:tok3n-SECRET@github.com/Acme/Shop.git"))
    (repo / "src" / "deep").mkdir(parents=True)
    place = locate(str(repo / "src" / "deep"))
    assert place == Project(str(repo), "github.com/acme/shop", "remote", "origin", "https://github.com/Acme/Shop.git")
    assert project_of(str(repo)) == "github.com/acme/shop"
    assert project_root(str(repo / "src")) == str(repo)
    assert "tok3n" not in repr(place) and "tok3n" not in place.describe()


def test_the_same_repository_at_two_paths_is_one_project(tmp_path: Path) -> None:
    one = make_repo(tmp_path / "laptop" / "shop", ("origin", "git@github.com:acme/shop.git"))
    two = make_repo(tmp_path / "desktop" / "code" / "shop-copy", ("origin", "https://github.com/acme/shop"))
    assert project_of(str(one)) == project_of(str(two)) == "github.com/acme/shop"
    assert project_root(str(one)) != project_root(str(two))


def test_no_remote_is_the_directory(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "scratch")
    (repo / "sub").mkdir()
    assert locate(str(repo / "sub")) == Project(str(repo), str(repo))
    plain = tmp_path / "not-a-repo"
    plain.mkdir()
    assert locate(str(plain)) == Project(str(plain), str(plain))


def test_several_remotes_origin_then_upstream_then_by_name(tmp_path: Path) -> None:
    both = make_repo(tmp_path / "a", ("upstream", "https://github.com/acme/shop"), ("origin", "git@github.com:me/shop"))
    assert locate(str(both)).id == "github.com/me/shop"
    fork = make_repo(
        tmp_path / "b", ("mine", "https://github.com/me/shop"), ("upstream", "https://github.com/acme/shop")
    )
    assert (locate(str(fork)).id, locate(str(fork)).remote) == ("github.com/acme/shop", "upstream")
    named = make_repo(tmp_path / "c", ("zeta", "https://github.com/z/z"), ("alpha", "https://github.com/a/a"))
    assert locate(str(named)).id == "github.com/a/a"
    local_origin = make_repo(
        tmp_path / "d", ("origin", "/srv/git/shop.git"), ("backup", "https://example.org/acme/shop")
    )
    assert locate(str(local_origin)).id == "example.org/acme/shop"
    only_local = make_repo(tmp_path / "e", ("origin", "../elsewhere.git"))
    assert locate(str(only_local)) == Project(str(only_local), str(only_local))


def test_a_worktree_reads_the_main_repository_config(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "shop", ("origin", "git@github.com:acme/shop.git"), commit=True)
    tree = tmp_path / "shop-feature"
    git("worktree", "add", "-q", "-b", "feature", str(tree), cwd=repo)
    assert (tree / ".git").is_file()
    place = locate(str(tree))
    assert (place.root, place.id, place.how) == (str(tree), "github.com/acme/shop", "remote")


def test_a_submodule_is_its_own_project(tmp_path: Path) -> None:
    lib = make_repo(tmp_path / "lib-src", commit=True)
    app = make_repo(tmp_path / "app", ("origin", "https://github.com/acme/app"), commit=True)
    git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib), "vendor/lib", cwd=app)
    sub = app / "vendor" / "lib"
    assert (sub / ".git").is_file()
    # its remote is a local path here: the submodule is identified by its directory ...
    assert locate(str(sub)) == Project(str(sub), str(sub))
    # ... and by its own remote once it has one (its config lives in the parent's .git/modules)
    git("remote", "set-url", "origin", "https://github.com/acme/lib.git", cwd=sub)
    assert locate(str(sub)).id == "github.com/acme/lib"
    assert locate(str(app / "vendor")).id == "github.com/acme/app"


def test_a_bare_repository_is_its_path(tmp_path: Path) -> None:
    bare = tmp_path / "shop.git"
    bare.mkdir()
    git("init", "-q", "--bare", cwd=bare)
    git("remote", "add", "origin", "https://github.com/acme/shop", cwd=bare)
    assert locate(str(bare)) == Project(str(bare), str(bare))


def test_git_config_override_names_the_project(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "renamed", ("origin", "https://github.com/acme/new-name"))
    git("config", "mem0-hooks.project", "github.com/Acme/Old-Name", cwd=repo)
    assert (locate(str(repo)).id, locate(str(repo)).how) == ("github.com/acme/old-name", "config")
    git("config", "mem0-hooks.project", "payments-monorepo", cwd=repo)
    assert locate(str(repo)).id == "payments-monorepo"


def test_insteadof_and_ssh_aliases_are_applied(tmp_path: Path, isolated_home: Path) -> None:
    (isolated_home / ".gitconfig").write_text('[url "git@github.com:"]\n\tinsteadOf = gh:\n')
    short = make_repo(tmp_path / "short", ("origin", "gh:acme/shop"))
    assert locate(str(short)).id == "github.com/acme/shop"
    (isolated_home / ".ssh").mkdir()
    (isolated_home / ".ssh" / "config").write_text(
        "Host *\n  ServerAliveInterval 30\nHost github-work work\n  HostName github.com\n  User git\n"
    )
    aliased = make_repo(tmp_path / "aliased", ("origin", "git@github-work:acme/shop.git"))
    assert locate(str(aliased)).id == "github.com/acme/shop"
    ssh_url = make_repo(tmp_path / "ssh-url", ("origin", "ssh://git@work:22/acme/shop.git"))
    assert locate(str(ssh_url)).id == "github.com/acme/shop"
    local_rule = make_repo(tmp_path / "local-rule", ("origin", "corp:tools/ci"))
    git("config", "url.https://git.corp.example/.insteadOf", "corp:", cwd=local_rule)
    assert locate(str(local_rule)).id == "git.corp.example/tools/ci"


def test_a_changed_remote_is_seen_by_a_long_lived_process(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "shop")
    assert locate(str(repo)).id == str(repo)
    git("remote", "add", "origin", "https://github.com/acme/shop", cwd=repo)
    assert locate(str(repo)).id == "github.com/acme/shop"
    git("remote", "set-url", "origin", "https://github.com/acme/shop-v2", cwd=repo)
    assert locate(str(repo)).id == "github.com/acme/shop-v2"


def test_an_unreadable_git_config_falls_back_to_the_path(tmp_path: Path) -> None:
    repo = tmp_path / "odd"
    (repo / ".git").mkdir(parents=True)
    (repo / ".git" / "config").write_bytes(b'[remote "origin"]\n\turl = \xff\xfe broken')
    assert locate(str(repo)).id == str(repo)
    broken = tmp_path / "broken-link"
    broken.mkdir()
    (broken / ".git").write_text("gitdir: /nowhere/at/all\n")
    assert locate(str(broken)) == Project(str(broken), str(broken))


def test_a_directory_that_no_longer_exists(tmp_path: Path, data_home: Path) -> None:
    from mem0_hooks import project_map

    repo = make_repo(tmp_path / "shop", ("origin", "https://github.com/acme/shop"))
    from mem0_hooks import config

    project_map.settle(locate(str(repo)), config.load())  # a hook ran there once
    gone = tmp_path / "shop" / "build" / "tmp"
    assert locate(str(gone)) == Project(str(repo), "github.com/acme/shop", "recorded")
    import shutil

    shutil.rmtree(repo)
    assert locate(str(repo)).id == "github.com/acme/shop"  # an old transcript's cwd still finds it
    unknown = tmp_path / "never-seen"
    assert locate(str(unknown)) == Project(str(unknown), str(unknown))


def test_a_deleted_subdirectory_belongs_to_its_work_tree(tmp_path: Path, isolated_home: Path) -> None:
    plain = make_repo(tmp_path / "plain")
    assert locate(str(plain / "build" / "gone")) == Project(str(plain), str(plain))
    remote = make_repo(tmp_path / "remote", ("origin", "https://github.com/acme/shop"))
    assert locate(str(remote / "gone")).id == "github.com/acme/shop"
    # a dotfiles repository at ~ does not own a deleted checkout under it
    make_repo(isolated_home, ("origin", "https://github.com/me/dotfiles"))
    deleted = isolated_home / "src" / "old-checkout"
    assert locate(str(deleted)) == Project(str(deleted), str(deleted))


def test_no_git_is_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "shop", ("origin", "https://github.com/acme/shop"))

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("locate must not start a process")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(os, "posix_spawn", refuse, raising=False)
    assert locate(str(repo)).id == "github.com/acme/shop"
