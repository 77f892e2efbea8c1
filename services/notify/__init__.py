"""Notify: decides who hears about each step, and delivers the messages."""
