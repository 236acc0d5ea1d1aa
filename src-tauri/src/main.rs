// Keeps a console window from opening next to the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    keyway_desktop::rendering::prefer_software_compositing();
    keyway_desktop::run();
}
