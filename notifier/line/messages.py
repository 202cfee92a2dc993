"""What the city's LINE account says to residents (Japanese). Kind, short, and never revealing."""
from __future__ import annotations

CITY = "和泉市"

GREETING = (
    f"{CITY}公式LINEを友だち追加していただき、ありがとうございます。\n"
    "市の支援制度のうち、あなたやご家族が使えそうなものを、ご希望に応じてこのLINEでお知らせします。\n\n"
    "お知らせを受け取るには、オンライン申請の完了画面に表示された「オンライン申請ID」"
    "（例：IZM-XXXX-XXXX）をこのトークに送ってください。\n"
    "お知らせの受け取りは、いつでも「配信停止」と送ると止められます。"
)

HELP = ("オンライン申請ID（例：IZM-XXXX-XXXX）を送ると、お知らせの受け取り設定ができます。\n"
        "お知らせを止めるときは「配信停止」と送ってください。")

# The same answer for an unknown ID, a wrong ID and an ID linked to someone else: it must never
# reveal whether an ID exists.
ID_NOT_CONFIRMED = ("申し訳ありません。入力されたIDを確認できませんでした。\n"
                    "オンライン申請の完了画面やメールに記載のIDを、もう一度お確かめください。\n"
                    "ご不明な点は市役所の窓口へお問い合わせください。")

THROTTLED = ("確認できない入力が続いたため、しばらくの間IDの受付を停止しています。\n"
             "1時間ほど時間をおいてから、もう一度お試しください。")

LINKED = "IDを確認しました。続けて、お知らせの受け取りについてご希望をお選びください。"

CONSENT_RECORDED_NOTIFY = ("ありがとうございます。お知らせの送付を希望する、で承りました。\n"
                           "止めたいときは、いつでも「配信停止」と送ってください。")
CONSENT_RECORDED_TAX = ("ありがとうございます。お知らせの送付と、所得状況の確認（課税台帳の確認）への同意を承りました。\n"
                        "止めたいときは、いつでも「配信停止」と送ってください。")
CONSENT_DECLINED = "承知しました。お知らせは送りません。ご希望が変わったときは、もう一度IDを送ってください。"
WITHDRAWN = ("お知らせの配信を停止しました。これまでの同意（課税台帳の確認を含む）も取り消しました。\n"
             "再開したいときは、オンライン申請IDをもう一度送ってください。")
NOT_LINKED_WITHDRAW = "現在、お知らせの配信は登録されていません。"
TAX_NEEDS_NOTIFY = "課税情報の確認への同意は、お知らせの送付を希望される場合にのみお受けしています。"

STOP_WORDS = {"配信停止", "停止", "ていし", "はいしんていし", "STOP"}


def text(body: str) -> dict:
    return {"type": "text", "text": body}


def consent_request(notify_text: str, tax_text: str) -> list[dict]:
    """The two consent texts verbatim, then buttons (labels ≤ 20 characters, postback data ≤ 300)."""
    return [
        text("【お知らせの送付について】\n" + notify_text + "\n\n"
             "【所得状況の確認について（任意）】\n" + tax_text),
        {"type": "template", "altText": f"{CITY}からのお知らせ：受け取り設定",
         "template": {"type": "buttons", "text": "ご希望をお選びください。",
                      "actions": [
                          {"type": "postback", "label": "お知らせを希望する", "data": "consent=notify",
                           "displayText": "お知らせの送付を希望する"},
                          {"type": "postback", "label": "お知らせ＋所得確認に同意", "data": "consent=notify,tax",
                           "displayText": "お知らせの送付を希望し、所得状況の確認にも同意する"},
                          {"type": "postback", "label": "希望しない", "data": "consent=none",
                           "displayText": "希望しない"},
                      ]}},
    ]
