//! Camera to crossings: frame sources, detector, tracker, counting line and the pipeline.

pub mod assignment;
pub mod camera;
pub mod capture;
pub mod counting_line;
pub mod detector;
pub mod geometry;
pub mod live_view;
pub mod picture;
pub mod pipeline;
pub mod pipeline_setup;
pub mod pipeline_thread;
pub mod scoring;
pub mod shot;
pub mod tracker;
pub mod trails;
pub mod truth;
pub mod windows;
