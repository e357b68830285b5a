from theorybench.seeds import PUBLIC_SALT, derive_seed, resolve_salt, salt_digest


def test_seed_is_stable_across_calls():
    first = derive_seed("optimization", "least_squares", {"kappa": 100, "n": 50}, 0, PUBLIC_SALT)
    second = derive_seed("optimization", "least_squares", {"n": 50, "kappa": 100}, 0, PUBLIC_SALT)
    assert first == second
    assert 0 <= first < 2**63


def test_seed_depends_on_every_component():
    base = ("optimization", "least_squares", {"kappa": 100}, 0, PUBLIC_SALT)
    seeds = {
        derive_seed(*base),
        derive_seed("other", *base[1:]),
        derive_seed(base[0], "other", *base[2:]),
        derive_seed(base[0], base[1], {"kappa": 1000}, *base[3:]),
        derive_seed(*base[:3], 1, base[4]),
        derive_seed(*base[:4], "private"),
        derive_seed(*base, stream="noise"),
    }
    assert len(seeds) == 7


def test_salt_resolution_order(monkeypatch):
    monkeypatch.delenv("THEORYBENCH_SALT", raising=False)
    assert resolve_salt(None) == PUBLIC_SALT
    monkeypatch.setenv("THEORYBENCH_SALT", "from-environment")
    assert resolve_salt(None) == "from-environment"
    assert resolve_salt("from-flag") == "from-flag"


def test_salt_digest_hides_private_salt():
    assert salt_digest(PUBLIC_SALT) == "public"
    digest = salt_digest("my secret")
    assert digest.startswith("private:")
    assert "secret" not in digest
