import panel as pn
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

api = FastAPI(debug=True)
api.add_middleware(
    CORSMiddleware,
    allow_origins=["*"],
    allow_credentials=True,
)

pn.panel("# Sales dashboard").servable()
