"""LINE: the one client seam for outbound calls (`client`), webhook and LIFF flows, and a local
simulator (`sim`). Import the submodules you need: `client` loads line-bot-sdk, which is slow to
import, so only code that calls LINE pays for it."""
