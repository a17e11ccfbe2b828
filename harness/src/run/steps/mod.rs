//! One file per step kind; `request` steps are the plain case in [`super::exec`].

mod for_each;
mod matrix;
mod parallel;
mod poll;
mod use_template;
