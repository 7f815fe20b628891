"""The wallet's HTML: one self-contained page per wallet (CSS, script and QR codes inline, no
CDN), so the copy the service worker keeps shows everything with the network off.

Every value from the database goes through :func:`html.escape`; QR codes are segno SVG.
"""

from __future__ import annotations

import json
import secrets
from html import escape
from typing import Any

import segno

CACHE_NAME = "venue-wallet-v1"

CSS = """
*{box-sizing:border-box}body{margin:0;font:16px/1.4 system-ui,sans-serif;background:#f3f4f6;
color:#111}header{background:#1f2937;color:#fff;padding:16px}header h1{margin:0;font-size:20px}
main{padding:12px;max-width:560px;margin:auto}section{background:#fff;border-radius:12px;
padding:12px 14px;margin:0 0 12px;box-shadow:0 1px 2px #0002}h2{font-size:17px;margin:4px 0 8px}
.row{display:flex;justify-content:space-between;gap:8px;padding:4px 0;border-bottom:1px solid #eee}
.row:last-child{border:0}.ticket{border:1px solid #ddd;border-radius:10px;padding:10px;
margin:8px 0}.qr svg{width:100%;max-width:260px;height:auto;display:block;margin:8px auto;
background:#fff;shape-rendering:crispEdges}.qr.small svg{max-width:160px}
button,input{font:inherit;padding:10px 14px;border-radius:8px}
button{border:0;background:#2563eb;color:#fff;margin:4px 4px 0 0}button.alt{background:#6b7280}
input{border:1px solid #ccc;width:100%;margin:4px 0}.muted{color:#666;font-size:14px}
#gate{position:fixed;inset:0;background:#fff;display:flex;flex-direction:column;
align-items:center;justify-content:center;z-index:9}#gate[hidden]{display:none}
#gate .big svg{width:92vmin;height:92vmin;max-width:none;shape-rendering:crispEdges}
#gate .label{font-size:22px;margin:8px}
#msg{position:fixed;bottom:12px;left:12px;right:12px;background:#111;color:#fff;padding:12px;
border-radius:8px}#msg:empty{display:none}.serial{font:20px monospace;text-align:center}
"""

SCRIPT = """
const T=document.body.dataset.token;
function say(t){const m=document.getElementById('msg');m.textContent=t;
setTimeout(()=>{m.textContent=''},4000)}
async function post(path,body){const r=await fetch(path,{method:'POST',
headers:{'Content-Type':'application/json'},body:JSON.stringify(body)});
let j=null;try{j=await r.json()}catch(e){}return [r.status,j]}
function why(j,st){return (j&&j.detail&&(j.detail.reason||j.detail))||('error '+st)}
document.querySelectorAll('[data-claim]').forEach(b=>b.onclick=async()=>{
const [st,j]=await post('/w/'+T+'/promotions/'+b.dataset.claim+'/claim',
{idempotency_key:b.dataset.key});
if(st===201){say('Added to your wallet');location.reload()}else say('Not possible: '+why(j,st))});
let lock=null;
document.querySelectorAll('[data-gate]').forEach(b=>b.onclick=async()=>{
const card=b.closest('.ticket'),g=document.getElementById('gate');
g.querySelector('.big').innerHTML=card.querySelector('.qr').innerHTML;
g.querySelector('.label').textContent=card.dataset.name;g.hidden=false;
try{await document.documentElement.requestFullscreen()}catch(e){}
try{if('wakeLock' in navigator)lock=await navigator.wakeLock.request('screen')}catch(e){}});
document.getElementById('gate').onclick=async()=>{document.getElementById('gate').hidden=true;
try{if(lock){await lock.release();lock=null}}catch(e){}
try{if(document.fullscreenElement)await document.exitFullscreen()}catch(e){}};
document.querySelectorAll('[data-share]').forEach(b=>b.onclick=async()=>{
const [st,j]=await post('/w/'+T+'/share',{ref:b.dataset.share});
if(st!==201){say('Not possible: '+why(j,st));return}
const box=b.closest('.ticket').querySelector('.shared');
box.innerHTML=j.qr;const a=document.createElement('input');a.value=j.url;a.readOnly=true;
box.appendChild(a);if(navigator.share){navigator.share({url:j.url}).catch(()=>{})}});
const acc=document.getElementById('accept');
if(acc)acc.onclick=async()=>{const [st,j]=await post('/w/'+T+'/accept',
{share:acc.dataset.share});if(st===201){say('Coupon added');
location.replace(location.pathname)}else say('Not possible: '+why(j,st))};
const bd=document.getElementById('birthday');
if(bd)bd.onsubmit=async(e)=>{e.preventDefault();const v=bd.querySelector('input').value;
const p=v.split('-');const [st,j]=await post('/w/'+T+'/birthday',
{month:+p[1],day:+p[2]});if(st===200)location.reload();else say('Not possible: '+why(j,st))};
try{localStorage.setItem('venue-wallet',location.pathname)}catch(e){}
if('serviceWorker' in navigator){navigator.serviceWorker.register('/w/sw.js',{scope:'/w/'})
.then(()=>navigator.serviceWorker.ready).then(()=>caches.open('%CACHE%'))
.then(c=>c.add(location.pathname+location.search))
.then(()=>{document.body.dataset.offline='ready'}).catch(()=>{})}
""".replace("%CACHE%", CACHE_NAME)

REQUEST_SCRIPT = """
const f=document.getElementById('request'),v=document.getElementById('verify');
function say(t){document.getElementById('msg').textContent=t}
f.onsubmit=async(e)=>{e.preventDefault();const phone=f.querySelector('input').value;
const r=await fetch('/w/request',{method:'POST',headers:{'Content-Type':'application/json'},
body:JSON.stringify({phone})});
if(r.status===202){v.hidden=false;say('If this number has a wallet, a code is on its way.')}
else say('Please check the number')};
v.onsubmit=async(e)=>{e.preventDefault();const phone=f.querySelector('input').value;
const otp=v.querySelector('input').value;
const r=await fetch('/w/verify',{method:'POST',headers:{'Content-Type':'application/json'},
body:JSON.stringify({phone,otp})});
if(r.ok&&r.redirected){location.href=r.url}else say('Wrong or expired code')};
"""

SERVICE_WORKER = """
const CACHE='%CACHE%';
self.addEventListener('install',e=>self.skipWaiting());
self.addEventListener('activate',e=>e.waitUntil(self.clients.claim()));
self.addEventListener('fetch',e=>{const r=e.request;
if(r.method!=='GET'||!new URL(r.url).pathname.startsWith('/w/'))return;
e.respondWith(fetch(r).then(res=>{if(res.ok&&(res.headers.get('content-type')||'')
.startsWith('text/html')){const copy=res.clone();caches.open(CACHE).then(c=>c.put(r,copy))}
return res}).catch(()=>caches.match(r).then(hit=>hit||new Response(
'<h1>Offline</h1><p>Open your wallet once with a connection.</p>',
{status:503,headers:{'Content-Type':'text/html'}}))))});
""".replace("%CACHE%", CACHE_NAME)


def qr_svg(text: str, *, scale: int = 4) -> str:
    """An inline SVG QR code (white quiet zone, so a gate's camera finds it on any theme)."""
    return str(segno.make(text, error="m").svg_inline(scale=scale, border=4, light="#fff",
                                                      omitsize=True))


def _doc(title: str, body: str, *, script: str = "", data: dict[str, str] | None = None) -> str:
    attrs = "".join(f' data-{k}="{escape(v)}"' for k, v in (data or {}).items())
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f'<meta name="referrer" content="no-referrer"><meta name="robots" content="noindex">'
            f'<meta name="theme-color" content="#1f2937"><title>{escape(title)}</title>'
            f'<style>{CSS}</style></head><body{attrs}>{body}<div id="msg"></div>'
            f'<script>{script}</script></body></html>')


def _balances(view: dict[str, Any]) -> str:
    if not view["balances"]:
        return '<p class="muted">No points yet.</p>'
    out = []
    for b in view["balances"]:
        extra = f' + {b["bonus_points"]} bonus' if b["bonus_points"] else ""
        money = f' · {escape(b["prepaid"])} {escape(b["currency"])}' \
            if b["prepaid"] != "0.00" else ""
        out.append(f'<div class="row"><span>{escape(b["name"])}</span>'
                   f'<b class="points" data-business="{b["business"]}">{b["points"]}'
                   f'{extra} points{money}</b></div>')
    return "".join(out)


def _codes(view: dict[str, Any]) -> str:
    if not view["codes"]:
        return '<p class="muted">No tickets or coupons.</p>'
    out = []
    for c in view["codes"]:
        until = f'<div class="muted">valid until {escape(c["valid_until"])}</div>' \
            if c["valid_until"] else ""
        if c["code"]:
            body = (f'<div class="qr">{qr_svg(c["code"])}</div>'
                    f'<div class="serial">{escape(c["serial"] or "")}</div>'
                    f'<button data-gate="1">Show at the gate</button>')
        else:
            body = ('<p class="muted hidden-code">The code is shown once it has been used: '
                    'staff find this ticket by your phone number.</p>')
        share = f'<button class="alt" data-share="{escape(c["ref"])}">Share</button>' \
            if c["shareable"] else ""
        out.append(f'<div class="ticket" data-name="{escape(c["name"])}" '
                   f'data-ref="{escape(c["ref"])}"><b>{escape(c["name"])}</b>'
                   f'<span class="muted"> · {escape(c["kind"])}</span>{until}{body}{share}'
                   f'<div class="shared"></div></div>')
    return "".join(out)


def _promotions(view: dict[str, Any]) -> str:
    if not view["promotions"]:
        return '<p class="muted">No promotions right now.</p>'
    out = []
    for p in view["promotions"]:
        img = f'<img src="{escape(p["image"])}" alt="" style="max-width:100%">' \
            if p["image"] else ""
        action = ""
        if p["coupon"]:
            cost = "free" if not p["coupon"]["cost"] else f'{p["coupon"]["cost"]} points'
            if p["claimed"]:
                action = '<p class="muted">Claimed</p>'
            else:
                action = (f'<button data-claim="{p["id"]}" data-key="w-{secrets.token_hex(8)}">'
                          f'Get {escape(p["coupon"]["name"])} ({cost})</button>')
        out.append(f'<div class="ticket promo"><b>{escape(p["title"])}</b>{img}'
                   f'<p>{escape(p["text"])}</p>{action}</div>')
    return "".join(out)


def _history(view: dict[str, Any]) -> str:
    rows = [f'<div class="row"><span>{escape(h["at"][:10])} {escape(h["business"])} · '
            f'{escape(h["reason"])}</span><b>{h["delta"]:+d}</b></div>'
            for h in view["history"]]
    rows += [f'<div class="row"><span>{escape(r["at"][:16])} {escape(r["name"])} · '
             f'{escape(r["gate"])}</span><b>{escape(r["result"])}</b></div>'
             for r in view["redemptions"]]
    return "".join(rows) or '<p class="muted">Nothing yet.</p>'


def wallet_page(view: dict[str, Any], *, token: str, base_url: str,
                accept: dict[str, Any] | None = None, share: str | None = None) -> str:
    referral = f'{base_url.rstrip("/")}/r/{view["referral_code"]}'
    bday = view["birthday"]
    birthday = (f'<p>Your birthday: {bday["day"]:02d}.{bday["month"]:02d}</p>' if bday else
                '<form id="birthday"><p>Tell us your birthday for a gift on the day:</p>'
                '<input type="date" required><button>Save</button></form>')
    offer = ""
    if accept is not None and share is not None:
        offer = (f'<section><h2>A coupon for you</h2><p>{escape(accept["name"])}</p>'
                 f'<button id="accept" data-share="{escape(share)}">Accept</button></section>'
                 if accept["status"] == "open" else
                 '<section><p>This shared coupon was already taken.</p></section>')
    body = (f'<header><h1>Your wallet</h1><div class="muted" style="color:#ccc">'
            f'{escape(view["masked_phone"])}</div></header><main>{offer}'
            f'<section><h2>Balances</h2>{_balances(view)}</section>'
            f'<section id="codes"><h2>Tickets and coupons</h2>{_codes(view)}</section>'
            f'<section><h2>Promotions</h2>{_promotions(view)}</section>'
            f'<section><h2>Invite a friend</h2><div class="qr small">{qr_svg(referral)}</div>'
            f'<input readonly value="{escape(referral)}"></section>'
            f'<section><h2>Birthday</h2>{birthday}</section>'
            f'<section><h2>History</h2>{_history(view)}</section></main>'
            f'<div id="gate" hidden><div class="big"></div><div class="label"></div>'
            f'<div class="muted">Tap to close</div></div>')
    return _doc("Your wallet", body, script=SCRIPT, data={"token": token})


def request_page(title: str, text: str) -> str:
    """The page of a refused link (and of ``/w``): ask for a new link by phone number."""
    body = (f'<header><h1>{escape(title)}</h1></header><main><section><p>{escape(text)}</p>'
            f'<form id="request"><p>Get a new link: your phone number</p>'
            f'<input name="phone" type="tel" autocomplete="tel" required>'
            f'<button>Send me a code</button></form>'
            f'<form id="verify" hidden><p>The code we sent you</p>'
            f'<input name="otp" inputmode="numeric" pattern="[0-9]{{6}}" required>'
            f'<button>Open my wallet</button></form></section></main>')
    return _doc(title, body, script=REQUEST_SCRIPT)


def share_page(name: str, status: str, share: str) -> str:
    if status != "open":
        return _doc("Shared coupon", '<header><h1>Shared coupon</h1></header><main><section>'
                    '<p>This coupon was already taken.</p></section></main>')
    body = (f'<header><h1>A coupon for you</h1></header><main><section>'
            f'<p>{escape(name)}</p><p id="how">Open your wallet link to accept it.</p>'
            f'<p><a href="/w">No link at hand? Get one with your phone number.</a></p>'
            f'</section></main>')
    script = (f"const w=localStorage.getItem('venue-wallet');"
              f"if(w)location.replace(w+'?accept='+{json.dumps(share)});")
    return _doc("A coupon for you", body, script=script)


def join_page(code: str) -> str:
    body = ('<header><h1>Join</h1></header><main><section>'
            '<p>A friend invited you. Join with your phone number: we send you your wallet '
            'link.</p><form id="join"><input name="phone" type="tel" autocomplete="tel" '
            'required><label><input type="checkbox" name="consent" style="width:auto" '
            'required> I agree to receive my wallet and offers</label>'
            '<button>Join</button></form></section></main>')
    script = (f"const f=document.getElementById('join');f.onsubmit=async(e)=>{{"
              f"e.preventDefault();const r=await fetch('/r/'+{json.dumps(code)}+'/join',"
              f"{{method:'POST',headers:{{'Content-Type':'application/json'}},body:JSON.stringify("
              f"{{phone:f.phone.value,consent:f.consent.checked}})}});"
              f"document.getElementById('msg').textContent=r.status===202?"
              f"'Your wallet link is on its way.':'Please check the number.'}}")
    return _doc("Join", body, script=script)
