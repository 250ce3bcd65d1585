"""Conversation turns with secrets in them, and turns that must come through redaction untouched.

``SECRET_TURNS`` pairs each turn with the exact substrings that must not survive ``scrub``;
``BENIGN_TURNS`` must come out byte for byte as they went in. Both are realistic Claude Code
turns: a user pasting a .env, a stack trace with a database URL, a curl with a bearer header...

Every secret is FAKE: generated here from a seeded RNG with the right prefix, alphabet and length,
so the file is stable from run to run yet holds no literal key-shaped string for a secret scanner
(or a reader) to mistake for a real one. Tests of capture, the queue, the store, the logs and the
remote backends reuse this module: import it, never copy it.
"""

# ruff: noqa: E501 -- pasted logs, tracebacks and config lines are as long as they are in real life

from __future__ import annotations

import base64
import json
import random
import string
import uuid

__all__ = ["ALL_SECRETS", "BENIGN_TURNS", "SECRET_TURNS"]

_rng = random.Random(20241124)

LOWER = string.ascii_lowercase
UPPER = string.ascii_uppercase
DIGITS = string.digits
ALNUM = LOWER + UPPER + DIGITS
B64URL = ALNUM + "-_"
B64 = ALNUM + "+/"
HEX = "0123456789abcdef"


def fake(alphabet: str, size: int) -> str:
    """``size`` random characters; every letter case and digit the alphabet offers appears at least once."""
    needs = [group for group in (LOWER, UPPER, DIGITS) if set(group) & set(alphabet)]
    while True:
        value = "".join(_rng.choice(alphabet) for _ in range(size))
        if all(any(c in group for c in value) for group in needs):
            return value


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def fake_jwt(claims: dict[str, object]) -> str:
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    return f"{header}.{payload}.{fake(B64URL, 43)}"


def fake_pem_body(lead: str, lines: int) -> list[str]:
    body = [lead + fake(B64, 64 - len(lead))] + [fake(B64, 64) for _ in range(lines - 2)]
    return body + [fake(B64, 40) + "=="]


def password() -> str:
    """A human-chosen-looking password: letters, digits and a symbol."""
    words = ["Summer", "Tr0ub4dor", "Falcon", "Quartz", "Maple", "Orbit", "Cobalt", "Nimbus"]
    return f"{_rng.choice(words)}{_rng.randint(10, 99)}{_rng.choice('!#%&*')}{fake(ALNUM, 4)}"


# --- the fake secrets -------------------------------------------------------------------------------

ANTHROPIC = "sk-ant-api03-" + fake(B64URL, 93) + "AA"
ANTHROPIC_OAUTH = "sk-ant-oat01-" + fake(B64URL, 93) + "AA"
OPENAI_PROJECT = "sk-proj-" + fake(B64URL, 156)
OPENAI_LEGACY = "sk-" + fake(ALNUM, 20) + "T3BlbkFJ" + fake(ALNUM, 20)
OPENAI_SVCACCT = "sk-svcacct-" + fake(B64URL, 120)
MEM0 = "m0-" + fake(ALNUM, 40)
MEM0_SERVER = "m0sk_" + fake(B64URL, 43)
AWS_ACCESS = "AKIA" + fake(UPPER + DIGITS, 16)
AWS_SECRET = fake(B64, 40)
AWS_STS_ACCESS = "ASIA" + fake(UPPER + DIGITS, 16)
AWS_STS_SECRET = fake(B64, 40)
AWS_SESSION = "IQoJb3JpZ2luX2VjE" + fake(B64, 300)
GITHUB_PAT = "ghp_" + fake(ALNUM, 36)
GITHUB_FINE = "github_pat_" + fake(ALNUM, 22) + "_" + fake(ALNUM, 59)
GITHUB_APP = "ghs_" + fake(ALNUM, 36)
GITHUB_OAUTH = "gho_" + fake(ALNUM, 36)
GITLAB = "glpat-" + fake(B64URL, 20)
SLACK_BOT = f"xoxb-{_rng.randint(10**11, 10**12)}-{_rng.randint(10**12, 10**13)}-{fake(ALNUM, 24)}"
SLACK_USER = f"xoxp-{_rng.randint(10**11, 10**12)}-{_rng.randint(10**11, 10**12)}-{fake(ALNUM, 32)}"
SLACK_WEBHOOK = (
    f"https://hooks.slack.com/services/T{fake(UPPER + DIGITS, 8)}/B{fake(UPPER + DIGITS, 10)}/{fake(ALNUM, 24)}"
)
STRIPE_LIVE = "sk_live_" + fake(ALNUM, 99)
STRIPE_TEST = "sk_test_" + fake(ALNUM, 99)
STRIPE_RESTRICTED = "rk_live_" + fake(ALNUM, 99)
STRIPE_WEBHOOK = "whsec_" + fake(ALNUM, 32)
GOOGLE = "AIza" + fake(B64URL, 35)
GOOGLE_OAUTH_SECRET = "GOCSPX-" + fake(B64URL, 28)
NPM = "npm_" + fake(ALNUM, 36)
PYPI = "pypi-AgEIcHlwaS5vcmc" + fake(B64URL, 150)
HUGGINGFACE = "hf_" + fake(LOWER + UPPER, 34)
SENDGRID = "SG." + fake(B64URL, 22) + "." + fake(B64URL, 43)
TWILIO_SID = "AC" + fake(HEX, 32)
TWILIO_TOKEN = fake(HEX, 32)
TWILIO_KEY = "SK" + fake(HEX, 32)
AZURE_ACCOUNT_KEY = fake(B64, 86) + "=="
AZURE_SAS_SIG = fake(ALNUM, 43).replace("+", "%2B") + "%3D"
AZURE_TENANT_ID = str(uuid.UUID(int=_rng.getrandbits(128), version=4))
AZURE_CLIENT_ID = str(uuid.UUID(int=_rng.getrandbits(128), version=4))
AZURE_CLIENT_SECRET = fake(ALNUM, 3) + "8Q~" + fake(ALNUM + "~.-_", 34)
DIGITALOCEAN = "dop_v1_" + fake(HEX, 64)
VAULT = "hvs." + fake(B64URL, 90)
DATABRICKS = "dapi" + fake(HEX, 32)
GROQ = "gsk_" + fake(ALNUM, 52)
OPENROUTER = "sk-or-v1-" + fake(HEX, 64)
REPLICATE = "r8_" + fake(ALNUM, 37)
LINEAR = "lin_api_" + fake(ALNUM, 40)
SENTRY = "sntrys_eyJpYXQiOjE3M" + fake(B64, 120)
DOCKER_HUB = "dckr_pat_" + fake(B64URL, 27)
DISCORD_WEBHOOK = f"https://discord.com/api/webhooks/{_rng.randint(10**17, 10**18)}/{fake(B64URL, 68)}"
TELEGRAM = f"{_rng.randint(10**9, 10**10 - 1)}:AA{fake(B64URL, 33)}"
AGE_KEY = "AGE-SECRET-KEY-1" + fake("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58)
ATLASSIAN = "ATATT3xFfGF0" + fake(B64URL, 180) + "=" + fake(HEX.upper(), 8)
JWT_USER = fake_jwt({"sub": "user_8421", "email": "alice@example.com", "iat": 1732406400, "exp": 1732410000})
JWT_SERVICE = fake_jwt({"iss": "https://auth.example.com/", "aud": "billing-api", "scope": "read write"})
JWT_K8S = fake_jwt({"iss": "kubernetes/serviceaccount", "kubernetes.io/serviceaccount/namespace": "prod"})
BEARER_OPAQUE = fake(B64URL, 48)
DATADOG = fake(HEX, 32)
SESSION_COOKIE = fake(ALNUM, 32)
CSRF_COOKIE = fake(ALNUM, 64)
BASIC_AUTH = base64.b64encode(b"deploy:" + password().encode()).decode()
DJANGO_SECRET = "django-insecure-" + fake(LOWER + DIGITS + "!@#%^&*(-_=+)", 50)
FLASK_SECRET = fake(B64URL, 43)
RAILS_SECRET = fake(HEX, 128)
GENERIC_SECRET = fake(B64, 44)
RESET_TOKEN = fake(B64URL, 43)
OAUTH_CLIENT_SECRET = fake(B64URL, 40)
K8S_SECRET_B64 = base64.b64encode(password().encode()).decode()
ENCRYPTION_KEY = base64.b64encode(bytes(_rng.randrange(256) for _ in range(32))).decode()

PW_ENV = password()
PW_TRACE = password()
PW_MYSQL_URL = password()
PW_MONGO = password()
PW_REDIS = password()
PW_COMPOSE = password()
PW_NETRC = password()
PW_CURL = password()
PW_MYSQL_CLI = password()
PW_PSQL = password()
PW_DOCKER_LOGIN = password()
PW_ADO = password()
PW_LIBPQ = password()
PW_JDBC = password()
PW_TFVARS = password()
PW_SPRING = password()
PW_PROXY = password()
PW_PSYCOPG = password()
PW_YAML = password()
PW_K8S_VALUE = password()
PW_SSHPASS = password()
PW_REDIS_CLI = password()

RSA_BODY = fake_pem_body("MIIEpAIBAAKCAQEA", 25)
OPENSSH_BODY = fake_pem_body("b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAAB", 7)
EC_BODY = fake_pem_body("MHcCAQEEI", 4)
PKCS8_BODY = fake_pem_body("MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQ", 26)
TRUNCATED_BODY = fake_pem_body("MIIJKAIBAAKCAgEA", 12)
PPK_BODY = [fake(B64, 64) for _ in range(3)]

_NL = "\n"
_KUBE_CLIENT_KEY = base64.b64encode(
    ("-----BEGIN RSA PRIVATE KEY-----\n" + _NL.join(fake_pem_body("MIIEowIBAAKCAQEA", 6)) + "\n").encode()
).decode()


# --- turns with secrets -----------------------------------------------------------------------------

SECRET_TURNS: list[tuple[str, list[str]]] = [
    (
        f"""Here's my .env, the app still can't reach the database:

```
NODE_ENV=production
PORT=3000
DATABASE_URL=postgres://app_user:{PW_ENV}@db.internal.example.com:5432/orders
OPENAI_API_KEY={OPENAI_PROJECT}
STRIPE_SECRET_KEY={STRIPE_LIVE}
SESSION_SECRET={GENERIC_SECRET}
LOG_LEVEL=debug
```""",
        [PW_ENV, OPENAI_PROJECT, STRIPE_LIVE, GENERIC_SECRET],
    ),
    (
        f"I set it in my shell like this:\n\nexport ANTHROPIC_API_KEY={ANTHROPIC}\n\nbut claude still says the key is missing.",
        [ANTHROPIC],
    ),
    (
        f'''This old script stopped working after the openai 1.0 upgrade:

```python
import openai
openai.api_key = "{OPENAI_LEGACY}"
resp = openai.Completion.create(model="text-davinci-003", prompt="hi")
```''',
        [OPENAI_LEGACY],
    ),
    (
        f'''from mem0 import MemoryClient

client = MemoryClient(api_key="{MEM0}")
client.add(messages, user_id="alice")

Why does this return 401 only in CI?''',
        [MEM0],
    ),
    (
        f"""Testing the self-hosted server:

curl -s http://localhost:8888/memories -H "X-API-Key: {MEM0_SERVER}" -H 'Content-Type: application/json' \\
  -d '{{"messages": [{{"role": "user", "content": "I like tea"}}], "user_id": "alice"}}'

It answers 401 {{"detail":"Invalid API key."}}""",
        [MEM0_SERVER],
    ),
    (
        f"""cat ~/.aws/credentials
[default]
aws_access_key_id = {AWS_ACCESS}
aws_secret_access_key = {AWS_SECRET}
region = eu-west-1

Is there anything wrong with this file? boto3 says InvalidClientTokenId.""",
        [AWS_ACCESS, AWS_SECRET],
    ),
    (
        f"""$ aws sts assume-role --role-arn arn:aws:iam::123456789012:role/deploy --role-session-name ci
{{
    "Credentials": {{
        "AccessKeyId": "{AWS_STS_ACCESS}",
        "SecretAccessKey": "{AWS_STS_SECRET}",
        "SessionToken": "{AWS_SESSION}",
        "Expiration": "2024-11-24T01:35:12+00:00"
    }},
    "AssumedRoleUser": {{
        "AssumedRoleId": "AROA3XFRBF23EXAMPLEID:ci",
        "Arn": "arn:aws:sts::123456789012:assumed-role/deploy/ci"
    }}
}}""",
        [AWS_STS_ACCESS, AWS_STS_SECRET, AWS_SESSION],
    ),
    (
        f"""git remote -v
origin  https://{GITHUB_PAT}@github.com/acme/payments.git (fetch)
origin  https://{GITHUB_PAT}@github.com/acme/payments.git (push)

push is rejected with 403, why?""",
        [GITHUB_PAT],
    ),
    (
        f"I created a fine-grained token and ran `echo {GITHUB_FINE} | gh auth login --with-token` but gh says it lacks scopes.",
        [GITHUB_FINE],
    ),
    (
        f"""The Actions log shows:
Run actions/checkout@v4
  with:
    repository: acme/payments
    token: {GITHUB_APP}
    ssh-strict: true
Syncing repository: acme/payments""",
        [GITHUB_APP],
    ),
    (
        f'''curl --header "PRIVATE-TOKEN: {GITLAB}" "https://gitlab.example.com/api/v4/projects/42/pipelines?ref=main"''',
        [GITLAB],
    ),
    (
        f'''import os
from slack_sdk import WebClient

client = WebClient(token="{SLACK_BOT}")
client.chat_postMessage(channel="#deploys", text="Deployed v2.3.1")''',
        [SLACK_BOT],
    ),
    (
        f"""Our alerting posts to Slack with:

curl -X POST -H 'Content-type: application/json' --data '{{"text":"disk full on web-3"}}' {SLACK_WEBHOOK}""",
        [SLACK_WEBHOOK],
    ),
    (
        f"""const stripe = require('stripe')('{STRIPE_TEST}');

const session = await stripe.checkout.sessions.create({{ mode: 'payment', line_items }});""",
        [STRIPE_TEST],
    ),
    (
        f"""For the reporting job I made a restricted key: {STRIPE_RESTRICTED}
and the webhook endpoint secret is {STRIPE_WEBHOOK}""",
        [STRIPE_RESTRICTED, STRIPE_WEBHOOK],
    ),
    (
        f"""// src/firebase.ts
const firebaseConfig = {{
  apiKey: "{GOOGLE}",
  authDomain: "acme-prod.firebaseapp.com",
  projectId: "acme-prod",
  storageBucket: "acme-prod.appspot.com",
}};""",
        [GOOGLE],
    ),
    (
        f"""cat ~/.npmrc
//registry.npmjs.org/:_authToken={NPM}
@acme:registry=https://npm.pkg.github.com""",
        [NPM],
    ),
    (
        f"""twine upload fails. My ~/.pypirc:

[distutils]
index-servers = pypi

[pypi]
username = __token__
password = {PYPI}""",
        [PYPI],
    ),
    (
        f'''from huggingface_hub import login
login(token="{HUGGINGFACE}")
model = AutoModel.from_pretrained("acme/private-llm")''',
        [HUGGINGFACE],
    ),
    (
        f"""sg = SendGridAPIClient('{SENDGRID}')
response = sg.send(message)
print(response.status_code)  # 403""",
        [SENDGRID],
    ),
    (
        f"""TWILIO_ACCOUNT_SID={TWILIO_SID}
TWILIO_AUTH_TOKEN={TWILIO_TOKEN}
TWILIO_API_KEY={TWILIO_KEY}""",
        [TWILIO_TOKEN, TWILIO_KEY],
    ),
    (
        f"""The function app can't read blobs. Connection string from the portal:
DefaultEndpointsProtocol=https;AccountName=acmeprodstore;AccountKey={AZURE_ACCOUNT_KEY};EndpointSuffix=core.windows.net""",
        [AZURE_ACCOUNT_KEY],
    ),
    (
        f"""The SAS URL works in the browser but not from the script:
https://acmeprodstore.blob.core.windows.net/exports/report.csv?sv=2022-11-02&ss=b&srt=o&sp=r&se=2024-12-01T00:00:00Z&spr=https&sig={AZURE_SAS_SIG}""",
        [AZURE_SAS_SIG],
    ),
    (
        f"""export AZURE_TENANT_ID={AZURE_TENANT_ID}
export AZURE_CLIENT_ID={AZURE_CLIENT_ID}
export AZURE_CLIENT_SECRET={AZURE_CLIENT_SECRET}""",
        [AZURE_CLIENT_SECRET],
    ),
    (
        f"""curl -sS https://api.acme.dev/v2/invoices?status=open \\
  -H "Authorization: Bearer {BEARER_OPAQUE}" \\
  -H "Accept: application/json" | jq '.data | length'""",
        [BEARER_OPAQUE],
    ),
    (
        f"""Request headers from the network tab:

GET /api/me HTTP/1.1
Host: app.example.com
Authorization: Bearer {JWT_USER}
User-Agent: Mozilla/5.0""",
        [JWT_USER],
    ),
    (
        f"""localStorage dump:
{{"auth": {{"accessToken": "{JWT_SERVICE}", "expiresAt": 1732410000}}}}""",
        [JWT_SERVICE],
    ),
    (
        "Here's the deploy key that fails with `Load key: invalid format`:\n\n-----BEGIN RSA PRIVATE KEY-----\n"
        + _NL.join(RSA_BODY)
        + "\n-----END RSA PRIVATE KEY-----\n",
        [RSA_BODY[0], RSA_BODY[10], RSA_BODY[-1]],
    ),
    (
        "ssh-add says 'error in libcrypto' for this key:\n```\n-----BEGIN OPENSSH PRIVATE KEY-----\n"
        + _NL.join(OPENSSH_BODY)
        + "\n-----END OPENSSH PRIVATE KEY-----\n```",
        [OPENSSH_BODY[0], OPENSSH_BODY[3], OPENSSH_BODY[-1]],
    ),
    (
        "openssl ec -in key.pem -text fails:\n-----BEGIN EC PRIVATE KEY-----\n"
        + _NL.join(EC_BODY)
        + "\n-----END EC PRIVATE KEY-----",
        [EC_BODY[0], EC_BODY[1], EC_BODY[-1]],
    ),
    (
        "I only copied part of the key before the terminal cut off:\n-----BEGIN RSA PRIVATE KEY-----\n"
        + _NL.join(TRUNCATED_BODY[:7]),
        [TRUNCATED_BODY[0], TRUNCATED_BODY[3], TRUNCATED_BODY[6]],
    ),
    (
        json.dumps(
            {
                "type": "service_account",
                "project_id": "acme-analytics",
                "private_key_id": fake(HEX, 40),
                "private_key": "-----BEGIN PRIVATE KEY-----\n" + _NL.join(PKCS8_BODY) + "\n-----END PRIVATE KEY-----\n",
                "client_email": "etl@acme-analytics.iam.gserviceaccount.com",
                "client_id": "104209328591209382041",
                "token_uri": "https://oauth2.googleapis.com/token",
            },
            indent=2,
        ),
        [PKCS8_BODY[0], PKCS8_BODY[12], PKCS8_BODY[-1]],
    ),
    (
        f"""Traceback (most recent call last):
  File "/srv/app/worker.py", line 18, in <module>
    conn = psycopg2.connect(os.environ["DATABASE_URL"])
  File "/usr/lib/python3/dist-packages/psycopg2/__init__.py", line 122, in connect
    conn = _connect(dsn, connection_factory=connection_factory, **kwasync)
psycopg2.OperationalError: connection to server at "10.0.3.12", port 5432 failed: FATAL:  password authentication failed for user "etl"
DSN was: postgresql://etl:{PW_TRACE}@10.0.3.12:5432/warehouse?sslmode=require""",
        [PW_TRACE],
    ),
    (
        f"""engine = create_engine("mysql+pymysql://root:{PW_MYSQL_URL}@localhost:3306/shop?charset=utf8mb4")""",
        [PW_MYSQL_URL],
    ),
    (
        f"""MONGO_URI = "mongodb+srv://reporting:{PW_MONGO}@cluster0.x7k2p.mongodb.net/analytics?retryWrites=true&w=majority"
client = MongoClient(MONGO_URI)""",
        [PW_MONGO],
    ),
    (
        f"""celery worker log:
[2024-11-23 21:04:11,302: ERROR/MainProcess] consumer: Cannot connect to redis://:{PW_REDIS}@redis.internal:6379/0: Error 111 connecting to redis.internal:6379. Connection refused.""",
        [PW_REDIS],
    ),
    (
        f"""kubectl config view --raw
apiVersion: v1
clusters:
- cluster:
    server: https://10.0.0.1:6443
  name: prod
users:
- name: ci-bot
  user:
    client-key-data: {_KUBE_CLIENT_KEY}
- name: deployer
  user:
    token: {JWT_K8S}""",
        [_KUBE_CLIENT_KEY[:120], _KUBE_CLIENT_KEY[-60:], JWT_K8S],
    ),
    (
        f"""apiVersion: v1
kind: Secret
metadata:
  name: db-credentials
type: Opaque
data:
  username: YXBwX3VzZXI=
  password: {K8S_SECRET_B64}""",
        [K8S_SECRET_B64],
    ),
    (
        f"""services:
  db:
    image: postgres:16
    environment:
      POSTGRES_USER: app
      POSTGRES_PASSWORD: {PW_COMPOSE}
      POSTGRES_DB: orders""",
        [PW_COMPOSE],
    ),
    (
        f"""docker run -d --name api -e DATABASE_URL=postgres://api:{PW_PSQL}@db:5432/api -e GITHUB_TOKEN={GITHUB_OAUTH} -p 8080:8080 acme/api:1.4.2""",
        [PW_PSQL, GITHUB_OAUTH],
    ),
    (
        f"""# settings.py
DEBUG = False
SECRET_KEY = '{DJANGO_SECRET}'
ALLOWED_HOSTS = ["api.acme.dev"]""",
        [DJANGO_SECRET],
    ),
    (
        f"""app = Flask(__name__)
app.config["SECRET_KEY"] = "{FLASK_SECRET}"
app.config["SESSION_COOKIE_SECURE"] = True""",
        [FLASK_SECRET],
    ),
    (
        f"""config/credentials.yml.enc decrypted:
secret_key_base: {RAILS_SECRET}
aws:
  access_key_id: {AWS_ACCESS}""",
        [RAILS_SECRET, AWS_ACCESS],
    ),
    (
        f"""~/.netrc:
machine api.heroku.com
  login alice@example.com
  password {PW_NETRC}""",
        [PW_NETRC],
    ),
    (
        f"""curl -u admin:{PW_CURL} -X POST https://jenkins.acme.dev/job/deploy/build""",
        [PW_CURL],
    ),
    (
        f"""mysqldump -h 10.0.1.5 -u backup -p{PW_MYSQL_CLI} --single-transaction shop > shop.sql
mysqldump: Got error: 1045: Access denied""",
        [PW_MYSQL_CLI],
    ),
    (
        f"""docker login registry.acme.dev -u ci --password {PW_DOCKER_LOGIN}
WARNING! Using --password via the CLI is insecure. Use --password-stdin.""",
        [PW_DOCKER_LOGIN],
    ),
    (
        f""""ConnectionStrings": {{
  "Default": "Server=tcp:acme-sql.database.windows.net,1433;Initial Catalog=orders;User ID=appuser;Password={PW_ADO};Encrypt=True;"
}}""",
        [PW_ADO],
    ),
    (
        f"""conn = psycopg2.connect("host=db.internal port=5432 dbname=metrics user=grafana password={PW_LIBPQ} sslmode=require")""",
        [PW_LIBPQ],
    ),
    (
        f"""spring.datasource.url=jdbc:postgresql://db:5432/inventory?user=inventory&password={PW_JDBC}&ssl=true
spring.datasource.password={PW_SPRING}""",
        [PW_JDBC, PW_SPRING],
    ),
    (
        f"""Copied from devtools as cURL:

curl 'https://app.example.com/api/cart' \\
  -H 'accept: application/json' \\
  -H 'cookie: sessionid={SESSION_COOKIE}; csrftoken={CSRF_COOKIE}; theme=dark' \\
  --compressed""",
        [SESSION_COOKIE, CSRF_COOKIE],
    ),
    (
        f"""The Nexus proxy wants basic auth. Wireshark shows:
Authorization: Basic {BASIC_AUTH}""",
        [BASIC_AUTH],
    ),
    (
        f"""curl -X POST "https://api.datadoghq.eu/api/v2/series" -H "DD-API-KEY: {DATADOG}" -H "Content-Type: application/json" -d @metrics.json""",
        [DATADOG],
    ),
    (
        f"""# terraform.tfvars
region      = "eu-central-1"
db_username = "admin"
db_password = "{PW_TFVARS}"
instance    = "db.t3.medium\"""",
        [PW_TFVARS],
    ),
    (
        f"""config/app.yaml:
server:
  port: 8443
llm:
  provider: anthropic
  api_key: {ANTHROPIC_OAUTH}
  model: claude-sonnet-4-5
database:
  password: {PW_YAML}""",
        [ANTHROPIC_OAUTH, PW_YAML],
    ),
    (
        f"""{{
  "web": {{
    "client_id": "8274639201-k3j4h5g6f7d8s9a0.apps.googleusercontent.com",
    "project_id": "acme-login",
    "client_secret": "{GOOGLE_OAUTH_SECRET}",
    "redirect_uris": ["http://localhost:8080/callback"]
  }}
}}""",
        [GOOGLE_OAUTH_SECRET],
    ),
    (
        f"""The GitHub App OAuth settings page shows client secret {OAUTH_CLIENT_SECRET} and I put it in:
OAUTH_CLIENT_SECRET={OAUTH_CLIENT_SECRET}""",
        [OAUTH_CLIENT_SECRET],
    ),
    (
        f"""notify.py posts to Discord:
requests.post("{DISCORD_WEBHOOK}", json={{"content": "build green"}})""",
        [DISCORD_WEBHOOK],
    ),
    (
        f"""bot = telebot.TeleBot("{TELEGRAM}")
bot.infinity_polling()""",
        [TELEGRAM],
    ),
    (
        f"""doctl auth init --access-token {DIGITALOCEAN}
Error: unable to use default context: Unable to initialize DigitalOcean API client""",
        [DIGITALOCEAN],
    ),
    (
        f"""$ vault login {VAULT}
Success! You are now authenticated.""",
        [VAULT],
    ),
    (
        f"""databricks configure --token
Databricks Host: https://adb-4921.7.azuredatabricks.net
Token: {DATABRICKS}""",
        [DATABRICKS],
    ),
    (
        f"""GROQ_API_KEY={GROQ}
OPENROUTER_API_KEY={OPENROUTER}
REPLICATE_API_TOKEN={REPLICATE}""",
        [GROQ, OPENROUTER, REPLICATE],
    ),
    (
        f"""The password reset email links to:
https://app.example.com/reset-password?token={RESET_TOKEN}&email=alice%40example.com
but the page says the token is invalid.""",
        [RESET_TOKEN],
    ),
    (
        f"""PowerShell profile:
$env:OPENAI_API_KEY = "{OPENAI_SVCACCT}"
$env:LINEAR_API_KEY = "{LINEAR}\"""",
        [OPENAI_SVCACCT, LINEAR],
    ),
    (
        f"""sentry-cli fails in CI:
SENTRY_AUTH_TOKEN={SENTRY} sentry-cli releases new 2.3.1
error: API request failed (401)""",
        [SENTRY],
    ),
    (
        f"""echo {DOCKER_HUB} | docker login -u acmebot --password-stdin""",
        [DOCKER_HUB],
    ),
    (
        f"""keys.txt from age-keygen:
# created: 2024-11-20T10:02:11Z
# public key: age1{fake(LOWER + DIGITS, 58)}
{AGE_KEY}""",
        [AGE_KEY],
    ),
    (
        f"""jira-cli init asked for a token, I pasted {ATLASSIAN} and it says 401.""",
        [ATLASSIAN],
    ),
    (
        f"""Here is the encryption key we use for the backups, is AES-256-GCM right for it?
{ENCRYPTION_KEY}""",
        [ENCRYPTION_KEY],
    ),
    (
        f"""**Setup**
- **API Key:** {GENERIC_SECRET[:20]}{OAUTH_CLIENT_SECRET[:20]}
- **Region:** us-east-1""",
        [GENERIC_SECRET[:20] + OAUTH_CLIENT_SECRET[:20]],
    ),
    (
        f"""env:
  - name: LOG_LEVEL
    value: info
  - name: DB_PASSWORD
    value: {PW_K8S_VALUE}""",
        [PW_K8S_VALUE],
    ),
    (
        f"""export http_proxy=http://jdoe:{PW_PROXY}@proxy.corp.example.com:3128
export https_proxy=$http_proxy""",
        [PW_PROXY],
    ),
    (
        f"""conn = psycopg2.connect(host="db", dbname="app", user="app", password="{PW_PSYCOPG}")""",
        [PW_PSYCOPG],
    ),
    (
        f"""sshpass -p '{PW_SSHPASS}' ssh -o StrictHostKeyChecking=no deploy@10.0.4.7 'systemctl restart api'
redis-cli -h cache.internal -a {PW_REDIS_CLI} ping""",
        [PW_SSHPASS, PW_REDIS_CLI],
    ),
    (
        "putty key (backup.ppk):\nPuTTY-User-Key-File-3: ssh-rsa\nEncryption: none\nComment: backup\n"
        f"Public-Lines: 2\n{fake(B64, 64)}\n{fake(B64, 40)}\nPrivate-Lines: 3\n"
        + _NL.join(PPK_BODY)
        + f"\nPrivate-MAC: {fake(HEX, 64)}",
        PPK_BODY,
    ),
    (
        f"""Slack user token for the export script: {SLACK_USER}""",
        [SLACK_USER],
    ),
]

# every distinct secret of SECRET_TURNS, in order: what a test scans a store, a log or a request body for
ALL_SECRETS: list[str] = list(dict.fromkeys(secret for _, secrets in SECRET_TURNS for secret in secrets))


# --- turns that must come through untouched ---------------------------------------------------------

# hashes, ids and public keys: random-looking, yet no secret; generated too, so none is copied from anywhere
COMMIT_SHA = fake(HEX, 40)
PARENT_SHA = fake(HEX, 40)
REQUEST_ID = str(uuid.UUID(int=_rng.getrandbits(128), version=4))
TRACE_ID = fake(HEX, 32)
IMAGE_DIGEST = fake(HEX, 64)
WHEEL_SHA256 = fake(HEX, 64)
NPM_INTEGRITY = base64.b64encode(_rng.randbytes(64)).decode()
GO_SUM_H1 = base64.b64encode(_rng.randbytes(32)).decode()
GO_MOD_H1 = base64.b64encode(_rng.randbytes(32)).decode()
SSH_ED25519_PUBLIC = "AAAAC3NzaC1lZDI1NTE5AAAAI" + base64.b64encode(b"\0" + _rng.randbytes(32)).decode()[1:].rstrip("=")

BENIGN_TURNS: list[str] = [
    "Can you refactor the `InvoiceRepository` so that `find_open_invoices` uses a single query instead of N+1?",
    f"""commit {COMMIT_SHA}
Author: Alice Martin <alice@example.com>
Date:   Sat Nov 23 21:04:11 2024 +0100

    Fix token refresh race in AuthClient

commit {PARENT_SHA}
Author: Bob Chen <bob@example.com>
Date:   Fri Nov 22 10:15:42 2024 +0100

    Bump max_tokens to 4096 for summaries""",
    """git log --oneline -5
a1b2c3d (HEAD -> main) Merge pull request #412 from acme/fix-password-reset
e4f5a6b Add rate limit to /auth/login
9c8d7e6 Rename api_key_header setting
0f1e2d3 Document the SECRET_KEY requirement
7a6b5c4 Upgrade pydantic to 2.9""",
    f"The request id was {REQUEST_ID} and the trace id {TRACE_ID}.",
    """Traceback (most recent call last):
  File "/home/alice/projects/billing-service/app/services/invoice_generator.py", line 88, in generate
    total = sum(line.amount for line in invoice.lines)
TypeError: unsupported operand type(s) for +: 'int' and 'NoneType'""",
    """```python
@dataclass
class Settings:
    database_url: str
    api_key: str | None = None
    password: str = ""
    max_tokens: int = 1024
    token_budget: float = 0.8
```""",
    """```ts
export interface AuthConfig {
  apiKey: string;
  token?: string;
  secret: string | undefined;
  credentials: 'include' | 'omit';
}
```""",
    """def login(self, username: str, password: str) -> Session:
    token = self._client.post("/auth/token", json={"username": username, "password": password})["access_token"]
    self.headers["Authorization"] = f"Bearer {token}"
    return Session(token=token)""",
    """api_key = os.environ["OPENAI_API_KEY"]
secret = settings.SECRET_KEY
password = getpass.getpass("Password: ")
token = await refresh_token(client_id, client_secret)""",
    """# .env.example -- copy to .env and fill in
OPENAI_API_KEY=your-api-key-here
DATABASE_URL=postgres://user:${DB_PASSWORD}@localhost:5432/app
STRIPE_SECRET_KEY=<your-stripe-key>
SESSION_SECRET=
MEM0_API_KEY=""",
    """jobs:
  release:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/setup-node@v4
      - run: npm publish
        env:
          NODE_AUTH_TOKEN: ${{ secrets.NPM_TOKEN }}
          GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}""",
    """env:
  - name: DB_PASSWORD
    valueFrom:
      secretKeyRef:
        name: db-credentials
        key: password""",
    'curl -H "Authorization: Bearer $API_TOKEN" -H "X-Api-Key: ${MEM0_API_KEY}" https://api.example.com/v1/memories',
    "To authenticate, send `Authorization: Bearer <token>` where the token comes from `POST /auth/login`.",
    "Bearer tokens expire after 30 minutes; the refresh token lasts 30 days and is single-use.",
    f"""$ docker images
REPOSITORY          TAG       IMAGE ID       CREATED        SIZE
acme/api            1.4.2     3f4e5d6c7b8a   2 days ago     187MB
postgres            16        b2c3d4e5f6a7   3 weeks ago    432MB
ghcr.io/acme/worker@sha256:{IMAGE_DIGEST}""",
    f"""Collecting httpx==0.27.0 (from -r requirements.txt (line 3))
  Downloading httpx-0.27.0-py3-none-any.whl (75 kB)
    --hash=sha256:{WHEEL_SHA256}""",
    f"""{{"node_modules/lodash": {{
  "version": "4.17.21",
  "resolved": "https://registry.npmjs.org/lodash/-/lodash-4.17.21.tgz",
  "integrity": "sha512-{NPM_INTEGRITY}"
}}}}""",
    f"""golang.org/x/crypto v0.21.0 h1:{GO_SUM_H1}
golang.org/x/crypto v0.21.0/go.mod h1:{GO_MOD_H1}""",
    f"Add this to ~/.ssh/authorized_keys: ssh-ed25519 {SSH_ED25519_PUBLIC} alice@laptop",
    """/usr/bin/ld: build/obj/parser.o: in function `Parser::parse()':
parser.cpp:(.text+0x1a4): undefined reference to `_ZNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEE12_M_constructEmc'
collect2: error: ld returned 1 exit status""",
    """Exception in thread "main" java.lang.IllegalStateException: Failed to load ApplicationContext
	at org.springframework.test.context.cache.DefaultCacheAwareContextLoaderDelegate.loadContext(DefaultCacheAwareContextLoaderDelegate.java:132)
	at org.springframework.boot.autoconfigure.jdbc.DataSourceProperties$DataSourceBeanCreationException.<init>(DataSourceProperties.java:92)""",
    f"See https://github.com/anthropics/claude-code/blob/{COMMIT_SHA}/docs/hooks/UserPromptSubmitHookReference.md#input for the input schema.",
    "The docs are at https://docs.mem0.ai/platform/quickstart and the API reference at https://api.mem0.ai/v1/memories/?user_id=alice&limit=10",
    """| endpoint            | p50 (ms) | p99 (ms) | errors |
|---------------------|---------:|---------:|-------:|
| POST /auth/token    |       41 |      212 |   0.1% |
| GET /v1/invoices    |       18 |       96 |   0.0% |
| POST /v1/payments   |      133 |      871 |   1.4% |""",
    """SELECT u.id, u.email, count(o.id) AS orders
FROM users u
LEFT JOIN orders o ON o.user_id = u.id AND o.created_at >= now() - interval '30 days'
WHERE u.password_reset_required = false
GROUP BY u.id, u.email
ORDER BY orders DESC
LIMIT 50;""",
    ".btn-primary-with-icon-and-long-label-variant { color: var(--color-primary-foreground-hover); }",
    """/nix/store/1b9p07z77phvv2hf6gm9f28syp39f1ag-python3-3.11.7/bin/python3
/home/alice/.cache/pypoetry/virtualenvs/billing-service-Xk3p9Q-py3.11/lib/python3.11/site-packages""",
    """The tokenizer splits text into tokens; with max_tokens=4096 and a 200k context we have room for
roughly 150 pages. Token counting uses the count_tokens endpoint.""",
    "Password requirements: at least 12 characters, one digit, one symbol. Token: the session token expires after 1 hour.",
    "The server listens on 0.0.0.0:8080, Postgres on 5432, Redis on 6379; the VPC CIDR is 10.0.0.0/16.",
    """resource "aws_db_instance" "main" {
  engine         = "postgres"
  username       = var.db_username
  password       = var.db_password
  instance_class = "db.t3.medium"
}""",
    """{
  "access_token": null,
  "token_type": "Bearer",
  "expires_in": 3600,
  "scope": "read:invoices write:invoices"
}""",
    """Run the tests with:

    pytest -k "test_token_refresh or test_password_reset" -x --maxfail=1 tests/test_auth_flow.py

Everything except `test_rotate_api_key_when_expired` passes.""",
    "getElementsByTagNameNS, AbstractSingletonProxyFactoryBean and XMLHttpRequestEventTarget2 are long but ordinary identifiers.",
    "useInfiniteScrollPaginationWithPrefetchHook2 and HTTPServerErrorResponseHandlerFactory42 are fine too.",
    "Let's use `secrets.token_urlsafe(32)` to generate the session key, and store only its SHA-256 hash.",
    """author = "Alice Martin"
keywords = ["memory", "claude", "hooks"]
authors = [{ name = "Alice Martin", email = "alice@example.com" }]""",
    "In the Authorization header use the word Bearer, then a space, then the token.",
    "I like tea, I work at ACME on the billing team, and my dog is called Pixel.",
    """$ kubectl get pods -n prod
NAME                          READY   STATUS    RESTARTS   AGE
api-7d9f8b6c5d-x2k4m          1/1     Running   0          2d
worker-5c6b7a8d9e-p3q7r       1/1     Running   3          2d""",
]
