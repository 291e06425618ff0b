//! The admin dashboard's rules, without HTTP or HTML (those are in
//! `http::admin`): who may use it and how they stay signed in
//! ([`service`], [`provider`] for sign-in with a provider), the audit log
//! ([`audit`]), and what its pages show ([`figures`], [`communities`], the
//! data browser in [`data`], and [`traffic`] for the request rates). Every
//! change it makes goes through the same services as the API.

pub(crate) mod audit;
pub(crate) mod communities;
pub(crate) mod data;
pub(crate) mod figures;
pub(crate) mod provider;
pub(crate) mod reports;
pub(crate) mod service;
pub mod settings;
pub(crate) mod traffic;

pub(crate) use service::{Admin, Dashboard};
